package dev.tiller.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Unmatched;

import java.util.concurrent.Callable;

/** {@code tiller jmh [JMH options]}: runs the kernel benchmarks of {@code dev.tiller.bench.jmh} with JMH's own options. */
public final class JmhSubcommand implements TillerSubcommand {
    @Override
    public String name() {
        return "jmh";
    }

    @Override
    public Object command() {
        return new Jmh();
    }

    @Command(name = "jmh", description = "Run the JMH kernel benchmarks (arguments go to JMH, e.g. MatVecBench -p format=Q8_0 -p threads=2).")
    static final class Jmh implements Callable<Integer> {
        @Unmatched
        java.util.List<String> args = new java.util.ArrayList<>();

        @Override
        public Integer call() throws Exception {
            org.openjdk.jmh.Main.main(args.toArray(String[]::new));
            return 0;
        }
    }
}
