package dev.tiller.engine.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Expressions real templates use, each with the value Python's Jinja gives (written by hand). */
class PythonCompatTest {

    private static String eval(String template) {
        Map<String, Object> dict = new LinkedHashMap<>();
        dict.put("k", "v");
        dict.put("n", 2);
        return ChatTemplate.of(template, "<s>", "</s>").render(
                List.of(ChatMessage.system("S"), ChatMessage.user("  Hi there  "), ChatMessage.assistant("A")),
                true, Map.of("d", dict));
    }

    @ParameterizedTest
    @CsvSource(delimiterString = " => ", quoteCharacter = '`', value = {
        "{{ messages[1].content.strip() }}                       => Hi there",
        "[{{ messages[1].content.lstrip() }}]                    => `[Hi there  ]`",
        "[{{ messages[1].content.rstrip() }}]                    => `[  Hi there]`",
        "{{ 'xxhixx'.strip('x') }}                               => hi",
        "{{ 'tool_call'.startswith('tool') }}                    => true",
        "{{ 'abc'.endswith(('x', 'c')) }}                        => true",
        "{{ 'a,b,,c'.split(',') | length }}                      => 4",
        "{{ ' a  b '.split() | join('+') }}                      => a+b",
        "{{ 'x</think>y</think>z'.split('</think>')[-1] }}      => z",
        "{{ 'hello wORLD'.title() }}                             => Hello World",
        "{{ 'MiXed'.upper() ~ 'MiXed'.lower() }}                 => MIXEDmixed",
        "{{ 'a-b-c'.replace('-', '+') }}                         => a+b+c",
        "{{ '{} is {}'.format('x', 1) }}                         => x is 1",
        "{{ 'abc'[::-1] }}                                       => cba",
        "{{ messages[::-1][0].role }}                            => assistant",
        "{{ messages[1:] | length }}                             => 2",
        "{{ 'ell' in 'hello' }}                                  => true",
        "{{ not 'z' in 'hello' }}                                => true",
        "{{ 'z' not in 'hello' }}                                => true",
        "{% if not add_generation_prompt is defined %}X{% else %}Y{% endif %} => Y",
        "{% if not undefined_thing is defined %}X{% else %}Y{% endif %}       => X",
        "{{ not messages[0].role == 'user' }}                    => true",
        "{% set ns = namespace(i=messages|length - 1) %}{{ ns.i }} => 2",
        "{% set ns = namespace(found=false) %}{% for m in messages %}{% if m.role == 'user' %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.found }} => true",
        "{% for m in messages %}{{ m.role[0] }}{% if not loop.last %},{% endif %}{% endfor %} => `s,u,a`",
        "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %} => k=v;n=2;",
        "{% for k, v in d | items %}{{ k }}={{ v }};{% endfor %} => k=v;n=2;",
        "{{ d.get('k') }}{{ d.get('missing', 'fallback') }}      => vfallback",
        "{{ d.keys() | list | join(',') }}                       => `k,n`",
        "{{ d.missing is defined }}{{ d.k is defined }}          => falsetrue",
        "{{ messages[1].content | trim | length }}               => 8",
        "{{ d | tojson }}                                        => `{\"k\": \"v\", \"n\": 2}`",
        "{%- filter upper -%} shout {%- endfilter -%}            => SHOUT",
        "{{ bos_token }}{{ eos_token }}                          => <s></s>",
    })
    void pythonSemantics(String template, String expected) {
        assertEquals(expected, eval(template.strip()));
    }

    @Test
    void whitespaceControlMatchesHfSettings() {
        // trim_blocks drops the newline after a block tag, lstrip_blocks the indentation before it.
        assertEquals("  X\nend", eval("  {% if true %}\n  X\n  {% endif %}\nend"));
        assertEquals("Xend", eval("{%- if true -%}\n  X  \n{%- endif -%}\nend"));
        assertEquals("a\nb", eval("{{ 'a' }}\n{{- '' }}\n{{ 'b' }}").replace("\n\n", "\n"));
        assertEquals("[\n]", eval("[\n{% for m in messages %}\n{% endfor %}\n]"));
    }

    @Test
    void tojsonSpellsLikePythonJsonDumps() {
        Map<String, Object> value = new LinkedHashMap<>();
        value.put("s", "é \"q\"\n");
        value.put("f", 1.5);
        value.put("whole", 2.0);
        value.put("tiny", 1e-5);
        value.put("b", true);
        value.put("none", null);
        value.put("list", List.of(1, 2));
        value.put("empty", Map.of());
        Map<String, Object> ctx = Map.of("v", value);
        List<ChatMessage> none = List.of();
        // What json.dumps(v, ensure_ascii=False) and friends print in CPython.
        assertEquals("{\"s\": \"é \\\"q\\\"\\n\", \"f\": 1.5, \"whole\": 2.0, \"tiny\": 1e-05, \"b\": true, "
                + "\"none\": null, \"list\": [1, 2], \"empty\": {}}",
                ChatTemplate.of("{{ v | tojson }}", "", "").render(none, false, ctx));
        assertEquals("{\n  \"s\": \"é \\\"q\\\"\\n\",\n  \"f\": 1.5,\n  \"whole\": 2.0,\n  \"tiny\": 1e-05,\n"
                + "  \"b\": true,\n  \"none\": null,\n  \"list\": [\n    1,\n    2\n  ],\n  \"empty\": {}\n}",
                ChatTemplate.of("{{ v | tojson(indent=2) }}", "", "").render(none, false, ctx));
        assertEquals("\"\\u00e9\"", ChatTemplate.of("{{ 'é' | tojson(ensure_ascii=true) }}", "", "").render(none, false));
        assertEquals("{\"a\":1,\"b\":2}", ChatTemplate.of("{{ {'b': 2, 'a': 1} | tojson(separators=(',', ':'), sort_keys=true) }}",
                "", "").render(none, false));
    }

    @Test
    void strftimeNowFormatsToday() {
        String year = String.valueOf(java.time.Year.now().getValue());
        assertEquals(year, eval("{{ strftime_now('%Y') }}"));
    }
}
