package dev.tiller.cli;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Every {@code ./tiller} command written in the README and in docs/ names a command the launcher has, and only options
 * that command has: a renamed or dropped flag fails here instead of in a reader's terminal. (The README's headline
 * command also runs, in {@link ReadmeCommandsTest}.)
 */
class DocsCommandsTest {
    static final Path ROOT = Path.of(System.getProperty("user.dir")).getParent();
    static final Pattern OPTION = Pattern.compile("(?<=^|[\\s\\[(|])(--?[A-Za-z][\\w-]*)");

    /** Each {@code ./tiller ...} in a Markdown file: continuation lines joined, cut at a closing backtick or a comment. */
    static List<String> commands(Path md) throws IOException {
        List<String> lines = Files.readAllLines(md), out = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            int at = line.indexOf("./tiller ");
            while (at >= 0) {
                boolean inline = line.substring(0, at).chars().filter(c -> c == '`').count() % 2 == 1;
                StringBuilder cmd = new StringBuilder(line.substring(at + "./tiller ".length()));
                if (inline) {
                    int end = cmd.indexOf("`");
                    if (end >= 0) cmd.setLength(end);
                } else {
                    // continued with a trailing backslash, or (in a usage block) on indented lines of [options]
                    for (int j = i + 1; j < lines.size(); j++) {
                        boolean backslash = cmd.toString().stripTrailing().endsWith("\\");
                        if (!backslash && !lines.get(j).matches("\\s+\\[.*")) break;
                        if (backslash) cmd.setLength(cmd.toString().stripTrailing().length() - 1);
                        cmd.append(' ').append(lines.get(j).strip());
                    }
                }
                out.add(md.getFileName() + ":" + (i + 1) + ": " + cmd.toString().replaceFirst("\\s+#\\s.*$", ""));
                at = inline ? line.indexOf("./tiller ", at + 1) : -1;
            }
        }
        return out;
    }

    @Test
    void documentedCommandsAndOptionsExist() throws IOException {
        List<Path> files = new ArrayList<>(List.of(ROOT.resolve("README.md")));
        try (Stream<Path> docs = Files.walk(ROOT.resolve("docs"))) {
            docs.filter(p -> p.toString().endsWith(".md")).sorted().forEach(files::add);
        }
        CommandLine tiller = Tiller.commandLine();
        List<String> problems = new ArrayList<>();
        int checked = 0;
        for (Path md : files) {
            for (String where : commands(md)) {
                String text = where.substring(where.indexOf(": ") + 2).replaceAll("'[^']*'|\"[^\"]*\"", "''");
                String[] words = text.strip().split("\\s+");
                CommandLine cmd = tiller.getSubcommands().get(words[0]);
                if (cmd == null) {
                    problems.add(where + "  -> no command '" + words[0] + "'");
                    continue;
                }
                if (words.length > 1 && cmd.getSubcommands().containsKey(words[1])) cmd = cmd.getSubcommands().get(words[1]);
                checked++;
                if (!cmd.getCommandSpec().unmatchedArgsBindings().isEmpty()) continue;   // jmh: the options are JMH's
                Matcher m = OPTION.matcher(text.substring(words[0].length()));
                while (m.find()) {
                    String opt = m.group(1);
                    if (cmd.getCommandSpec().findOption(opt) == null) problems.add(where + "  -> " + words[0] + " has no option " + opt);
                }
            }
        }
        assertTrue(checked > 30, "found only " + checked + " documented commands");
        assertTrue(problems.isEmpty(), String.join("\n", problems));
    }
}
