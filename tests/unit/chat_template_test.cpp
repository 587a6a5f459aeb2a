// Unit tests of the chat template renderer. They cover each statement, expression form,
// filter, test and method, whitespace control, the sandbox limits, syntax errors and the
// facade helpers. Expected texts are what Python's jinja2 3.1 renders for the same
// template with trim_blocks and lstrip_blocks on.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "chat/chat_template.h"

namespace kvinfer::chat {
namespace {

using Json = nlohmann::ordered_json;

std::chrono::system_clock::time_point test_now() {
  using namespace std::chrono;
  return sys_days{year{2026} / January / 15} + hours{12};
}

std::string render(const std::string& source, const Json& context = Json::object(), const RenderLimits& limits = {}) {
  ChatTemplate chat_template(source, limits);
  chat_template.set_clock(test_now);
  return chat_template.render(context);
}

// Returns the error that parsing or rendering `source` throws, and fails the test when
// none does.
ChatTemplateError render_error(const std::string& source, const Json& context = Json::object(),
                               const RenderLimits& limits = {}) {
  try {
    const std::string output = render(source, context, limits);
    ADD_FAILURE() << "expected an error, got output: " << output;
  } catch (const ChatTemplateError& error) {
    return error;
  }
  return ChatTemplateError(ChatTemplateErrorKind::runtime, "no error");
}

Json conversation() {
  return Json::parse(R"J({"messages": [
      {"role": "system", "content": "sys"},
      {"role": "user", "content": "hi"},
      {"role": "assistant", "content": "yo"}]})J");
}

// ---- statements ----

TEST(ChatTemplateStatements, IfElifElse) {
  const std::string source = "{% if n > 5 %}big{% elif n > 2 %}mid{% else %}small{% endif %}";
  EXPECT_EQ(render(source, {{"n", 7}}), "big");
  EXPECT_EQ(render(source, {{"n", 3}}), "mid");
  EXPECT_EQ(render(source, {{"n", 1}}), "small");
}

TEST(ChatTemplateStatements, LoopVariables) {
  const std::string source =
      "{% for m in messages %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}"
      "{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}";
  EXPECT_EQ(render(source, conversation()), "1032TrueFalse3;2121FalseFalse3;3210FalseTrue3;");
}

TEST(ChatTemplateStatements, LoopPrevitemAndNextitem) {
  const std::string source =
      "{% for m in messages %}{{ loop.previtem.role if loop.previtem is defined else '-' }}>"
      "{{ loop.nextitem.role if loop.nextitem is defined else '-' }} {% endfor %}";
  EXPECT_EQ(render(source, conversation()), "->user system>assistant user>- ");
}

TEST(ChatTemplateStatements, LoopCycle) {
  EXPECT_EQ(render("{% for x in [1, 2, 3] %}{{ loop.cycle('a', 'b') }}{% endfor %}"), "aba");
}

TEST(ChatTemplateStatements, ForElseRunsWhenEmpty) {
  EXPECT_EQ(render("{% for x in [] %}a{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(render("{% for x in [1] %}a{% else %}empty{% endfor %}"), "a");
}

TEST(ChatTemplateStatements, ForFilterCountsOnlyKeptItems) {
  const std::string source =
      "{% for m in messages if m.role != 'system' %}{{ loop.index }}/{{ loop.length }}:{{ m.role }} {% endfor %}";
  EXPECT_EQ(render(source, conversation()), "1/2:user 2/2:assistant ");
  EXPECT_EQ(render("{% for x in [1, 2] if x > 5 %}a{% else %}none{% endfor %}"), "none");
}

TEST(ChatTemplateStatements, ForUnpacksPairs) {
  EXPECT_EQ(render("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", {{"d", {{"a", 1}, {"b", 2}}}}),
            "a=1;b=2;");
  EXPECT_EQ(render("{% for a, b in [(1, 2), (3, 4)] %}{{ a * b }} {% endfor %}"), "2 12 ");
  EXPECT_EQ(render("{% for k in d %}{{ k }}{% endfor %}", {{"d", {{"x", 1}, {"y", 2}}}}), "xy");
}

TEST(ChatTemplateStatements, LoopAssignmentsStayInIteration) {
  // Each iteration starts again from the outer value, as in jinja2.
  EXPECT_EQ(render("{% set y = 1 %}{% for x in [1, 2] %}{{ y }}{% set y = 2 %}{{ y }}{% endfor %}{{ y }}"), "12121");
}

TEST(ChatTemplateStatements, IfAssignmentsAreVisibleAfter) {
  EXPECT_EQ(render("{% set x = 1 %}{% if true %}{% set x = 2 %}{% endif %}{{ x }}"), "2");
}

TEST(ChatTemplateStatements, NamespaceCarriesValuesOutOfLoops) {
  const std::string source =
      "{% set ns = namespace(count=0, roles=[]) %}{% for m in messages %}{% set ns.count = ns.count + 1 %}"
      "{% set ns.roles = ns.roles + [m.role] %}{% endfor %}{{ ns.count }} {{ ns.roles }}";
  EXPECT_EQ(render(source, conversation()), "3 ['system', 'user', 'assistant']");
  EXPECT_EQ(render("{% set ns = namespace() %}{% set ns.index = 4 %}{{ ns.index }}"), "4");
}

TEST(ChatTemplateStatements, SetTupleAndBlock) {
  EXPECT_EQ(render("{% set a, b = 1, 2 %}{{ a }}{{ b }}"), "12");
  EXPECT_EQ(render("{% set t = 1, 2 %}{{ t }}"), "(1, 2)");
  EXPECT_EQ(render("{% set text %}Hello {{ name }}{% endset %}{{ text|upper }}", {{"name", "bob"}}), "HELLO BOB");
  EXPECT_EQ(render("{% set text | trim %}   padded   {% endset %}[{{ text }}]"), "[padded]");
}

TEST(ChatTemplateStatements, SetAttributeOfNonNamespaceFails) {
  const ChatTemplateError error = render_error("{% set d = {} %}{% set d.x = 1 %}");
  EXPECT_EQ(error.kind(), ChatTemplateErrorKind::runtime);
  EXPECT_NE(std::string(error.what()).find("not a namespace"), std::string::npos) << error.what();
}

TEST(ChatTemplateStatements, MacroArguments) {
  const std::string macro = "{% macro greet(name, greeting='Hello', punct='!') %}{{ greeting }}, {{ name }}{{ punct }}{% endmacro %}";
  EXPECT_EQ(render(macro + "{{ greet('A') }}"), "Hello, A!");
  EXPECT_EQ(render(macro + "{{ greet('B', 'Hi') }}"), "Hi, B!");
  EXPECT_EQ(render(macro + "{{ greet(name='C', punct='?') }}"), "Hello, C?");
  EXPECT_EQ(render(macro + "[{{ greet() }}]"), "[Hello, !]");
  EXPECT_EQ(render_error(macro + "{{ greet(1, 2, 3, 4) }}").kind(), ChatTemplateErrorKind::runtime);
  EXPECT_EQ(render_error(macro + "{{ greet(nope=1) }}").kind(), ChatTemplateErrorKind::runtime);
}

TEST(ChatTemplateStatements, MacroRecursionAndScope) {
  EXPECT_EQ(render("{% macro count(n) %}{% if n > 0 %}{{ n }}{{ count(n - 1) }}{% endif %}{% endmacro %}{{ count(3) }}"),
            "321");
  // A macro reads the scope it was defined in when it is called.
  EXPECT_EQ(render("{% macro show() %}{{ later }}{% endmacro %}{% set later = 'set after' %}{{ show() }}"), "set after");
  EXPECT_EQ(render("{% macro outer(x) %}{% macro inner(y) %}<{{ y }}>{% endmacro %}{{ inner(x) }}{% endmacro %}{{ outer('a') }}"),
            "<a>");
}

TEST(ChatTemplateStatements, BreakAndContinue) {
  EXPECT_EQ(render("{% for x in range(10) %}{% if x == 5 %}{% break %}{% endif %}{% if x is odd %}{% continue %}{% endif %}"
                   "{{ x }}{% endfor %}"),
            "024");
  EXPECT_EQ(render_error("{% break %}").kind(), ChatTemplateErrorKind::syntax);
}

TEST(ChatTemplateStatements, RawCommentsFilterAndWith) {
  EXPECT_EQ(render("{% raw %}{{ not rendered }}{% endraw %}"), "{{ not rendered }}");
  EXPECT_EQ(render("a{# a comment {{ x }} #}b"), "ab");
  EXPECT_EQ(render("{% filter upper %}hello {{ name }}{% endfilter %}", {{"name", "bob"}}), "HELLO BOB");
  EXPECT_EQ(render("{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}{{ a is defined }}"), "3False");
}

TEST(ChatTemplateStatements, GenerationBlockRendersBody) {
  EXPECT_EQ(render("<a>{% generation %}{{ 'text' }}{% set x = 1 %}{% endgeneration %}</a>{{ x is defined }}"),
            "<a>text</a>False");
}

TEST(ChatTemplateStatements, UnsupportedTagsAreSyntaxErrors) {
  EXPECT_EQ(render_error("{% include 'other.jinja' %}").kind(), ChatTemplateErrorKind::syntax);
  EXPECT_EQ(render_error("{% extends 'base.jinja' %}").kind(), ChatTemplateErrorKind::syntax);
}

// ---- whitespace control ----

TEST(ChatTemplateWhitespace, TrimAndLstripBlocks) {
  EXPECT_EQ(render("<ul>\n  {% for x in [1, 2] %}\n    <li>{{ x }}</li>\n  {% endfor %}\n</ul>"),
            "<ul>\n    <li>1</li>\n    <li>2</li>\n</ul>");
  // Variable tags keep their surrounding whitespace.
  EXPECT_EQ(render("  {{ 1 }}\n{{ 2 }}"), "  1\n2");
  // A comment strips like a block tag.
  EXPECT_EQ(render("a\n  {# note #}\nb"), "a\nb");
}

TEST(ChatTemplateWhitespace, DashStripsAllWhitespace) {
  EXPECT_EQ(render("a  \n  {%- if true -%}  \n  b  \n  {%- endif -%}  \n  c"), "abc");
  EXPECT_EQ(render("a {{- 'x' -}} b"), "axb");
  EXPECT_EQ(render("a {#- c -#} b"), "ab");
}

TEST(ChatTemplateWhitespace, PlusDisablesStripping) {
  EXPECT_EQ(render("  {%+ if true %}kept{% endif %}"), "  kept");
  EXPECT_EQ(render("{% if true +%}\nline{% endif %}"), "\nline");
}

TEST(ChatTemplateWhitespace, NewlineNormalization) {
  EXPECT_EQ(render("a\r\nb\rc\n"), "a\nb\nc");
  EXPECT_EQ(render("a\n\n"), "a\n");
}

// ---- expressions ----

TEST(ChatTemplateExpressions, Literals) {
  EXPECT_EQ(render("{{ 'it\\'s' }}|{{ \"tab\\there\" }}|{{ '\\u00e9\\x41\\n' }}|{{ 'a' \"b\" }}"), "it's|tab\there|éA\n|ab");
  EXPECT_EQ(render("{{ 1_000 }}|{{ 1.5 }}|{{ 1e3 }}|{{ true }}|{{ False }}|{{ none }}|{{ None }}"),
            "1000|1.5|1000.0|True|False|None|None");
  EXPECT_EQ(render("{{ [1, 'a', none] }}|{{ {'k': 'v', 'n': 1} }}|{{ (1,) }}|{{ (1, 2) }}|{{ () }}"),
            "[1, 'a', None]|{'k': 'v', 'n': 1}|(1,)|(1, 2)|()");
  EXPECT_EQ(render("{{ [\"it's\", 'say \"hi\"'] }}"), "[\"it's\", 'say \"hi\"']");
}

TEST(ChatTemplateExpressions, Arithmetic) {
  EXPECT_EQ(render("{{ 7 // 2 }}|{{ -7 // 2 }}|{{ 7 % -3 }}|{{ -7 % 3 }}|{{ 2 ** 10 }}|{{ 2 ** -1 }}|{{ 1 / 4 }}|{{ 10 / 5 }}"),
            "3|-4|-2|2|1024|0.5|0.25|2.0");
  EXPECT_EQ(render("{{ 0.1 + 0.2 }}|{{ 1e16 }}|{{ 1e15 }}|{{ 1e-5 }}|{{ 10.5 % 3 }}|{{ -57.0 % 3 }}|{{ true + 1 }}"),
            "0.30000000000000004|1e+16|1000000000000000.0|1e-05|1.5|0.0|2");
  EXPECT_EQ(render("{{ 2 + 3 * 4 }}|{{ -2 ** 2 }}|{{ 2 ** 3 ** 2 }}|{{ 10 - 3 - 2 }}"), "14|4|64|5");
  EXPECT_EQ(render("{{ 'ab' * 3 }}|{{ 2 * 'x' }}|{{ [1] * 2 }}|{{ [1, 2] + [3] }}|{{ 'a' + 'b' }}"),
            "ababab|xx|[1, 1]|[1, 2, 3]|ab");
  EXPECT_EQ(render_error("{{ 1 / 0 }}").kind(), ChatTemplateErrorKind::runtime);
  EXPECT_EQ(render_error("{{ 'a' + 1 }}").kind(), ChatTemplateErrorKind::runtime);
  EXPECT_EQ(render_error("{{ 9223372036854775807 + 1 }}").kind(), ChatTemplateErrorKind::runtime);
}

TEST(ChatTemplateExpressions, ConcatenationAndPrecedence) {
  EXPECT_EQ(render("{{ 'x' ~ 1 ~ none ~ true ~ 2.0 ~ undefined_name }}"), "x1NoneTrue2.0");
  // Filters bind tighter than binary operators.
  EXPECT_EQ(render("{{ 'a' + s | trim + 'b' }}", {{"s", "  x  "}}), "axb");
  EXPECT_EQ(render("{{ not x is defined }}"), "True");
  EXPECT_EQ(render("{{ -3 | abs }}"), "3");
}

TEST(ChatTemplateExpressions, ComparisonsAndLogic) {
  EXPECT_EQ(render("{{ 1 < 2 < 3 }}{{ 1 < 3 < 2 }}{{ 1 == 1.0 }}{{ 'a' != 'b' }}{{ [1, 2] == [1, 2] }}{{ 'B' < 'a' }}"),
            "TrueFalseTrueTrueTrueTrue");
  EXPECT_EQ(render("{{ true and 'x' }}|{{ false or 'y' }}|{{ none or 0 or '' }}|{{ 1 and 0 }}|{{ not 0 }}"), "x|y||0|True");
  EXPECT_EQ(render("{{ 1 in [1, 2] }}{{ 3 not in [1, 2] }}{{ 'el' in 'hello' }}{{ 'a' in d }}{{ 'z' in d }}{{ 'a' in nothing }}",
                   {{"d", {{"a", 1}}}}),
            "TrueTrueTrueTrueFalseFalse");
  EXPECT_EQ(render_error("{{ 1 < 'a' }}").kind(), ChatTemplateErrorKind::runtime);
}

TEST(ChatTemplateExpressions, InlineIf) {
  EXPECT_EQ(render("{{ 1 if true else 2 }}|{{ 1 if false else 2 }}|{{ 1 if false }}|{{ 'a' if false else 'b' if true else 'c' }}"),
            "1|2||b");
}

TEST(ChatTemplateExpressions, AttributesAndItems) {
  const Json context = {{"d", {{"a", 1}, {"items", 2}, {"b", {1, 2}}}}};
  EXPECT_EQ(render("{{ d.a }}|{{ d['a'] }}|{{ d['items'] }}|{{ d.b[1] }}|{{ d.b.0 }}|{{ d.b[-1] }}", context), "1|1|2|2|1|2");
  // A missing key or attribute is undefined, not an error.
  EXPECT_EQ(render("[{{ d.missing }}]{{ d.missing is defined }}{{ d['missing'] is undefined }}{{ d.b[9] is defined }}", context),
            "[]FalseTrueFalse");
  // Looking into an undefined value is an error, as in jinja2.
  const ChatTemplateError error = render_error("{{ d.missing.deeper }}", context);
  EXPECT_EQ(error.kind(), ChatTemplateErrorKind::runtime);
  EXPECT_NE(std::string(error.what()).find("'missing'"), std::string::npos) << error.what();
  EXPECT_EQ(std::string(render_error("{{ nothing + 1 }}").what()), "chat template error at line 1: 'nothing' is undefined");
}

TEST(ChatTemplateExpressions, Slicing) {
  const Json context = {{"s", "héllo"}, {"l", {1, 2, 3, 4}}};
  EXPECT_EQ(render("{{ s[1] }}|{{ s[1:3] }}|{{ s[::-1] }}|{{ s[::2] }}|{{ s[-2:] }}|{{ s[:-2] }}|{{ s[10:] }}", context),
            "é|él|olléh|hlo|lo|hél|");
  EXPECT_EQ(render("{{ l[1:] }}|{{ l[:2] }}|{{ l[::-1] }}|{{ l[1:3:1] }}|{{ l[-3:-1] }}|{{ l[::3] }}", context),
            "[2, 3, 4]|[1, 2]|[4, 3, 2, 1]|[2, 3]|[2, 3]|[1, 4]");
  EXPECT_EQ(render_error("{{ l[::0] }}", context).kind(), ChatTemplateErrorKind::runtime);
}

// ---- tests ----

TEST(ChatTemplateTests, TypeTests) {
  const Json context = {{"n", 7}, {"f", 2.5}, {"s", "x"}, {"d", Json::object()}, {"l", Json::array()},
                        {"t", true}, {"z", nullptr}};
  EXPECT_EQ(render("{{ n is number }}{{ f is number }}{{ t is number }}{{ s is number }}", context), "TrueTrueTrueFalse");
  EXPECT_EQ(render("{{ n is integer }}{{ t is integer }}{{ f is float }}{{ t is boolean }}{{ n is boolean }}", context),
            "TrueFalseTrueTrueFalse");
  EXPECT_EQ(render("{{ s is string }}{{ d is mapping }}{{ l is mapping }}{{ z is none }}{{ u is none }}", context),
            "TrueTrueFalseTrueFalse");
  EXPECT_EQ(render("{{ s is iterable }}{{ d is iterable }}{{ l is sequence }}{{ n is iterable }}{{ u is iterable }}", context),
            "TrueTrueTrueFalseTrue");
  EXPECT_EQ(render("{{ u is defined }}{{ u is undefined }}{{ z is defined }}{{ t is true }}{{ t is false }}", context),
            "FalseTrueTrueTrueFalse");
}

TEST(ChatTemplateTests, ValueTests) {
  EXPECT_EQ(render("{{ 7 is odd }}{{ 7 is even }}{{ 9 is divisibleby 3 }}{{ 9 is divisibleby(2) }}{{ 7 is not odd }}"),
            "TrueFalseTrueFalseFalse");
  EXPECT_EQ(render("{{ 1 is eq 1 }}{{ 1 is equalto 2 }}{{ 2 is gt 1 }}{{ 1 is le 1 }}{{ 1 is in [1] }}{{ 1 is ne 1 }}"),
            "TrueFalseTrueTrueTrueFalse");
  EXPECT_EQ(render("{{ 'abc' is lower }}{{ 'ABC' is upper }}{{ 'upper' is filter }}{{ 'odd' is test }}{{ none is sameas none }}"),
            "TrueTrueTrueTrueTrue");
  EXPECT_EQ(render_error("{{ 1 is nosuchtest }}").kind(), ChatTemplateErrorKind::syntax);
}

// ---- filters ----

TEST(ChatTemplateFilters, StringFilters) {
  EXPECT_EQ(render("{{ '  x  '|trim }}|{{ 'xxaxx'|trim('x') }}|{{ 'aBc'|upper }}|{{ 'aBc'|lower }}|{{ 'hELLO wORLD'|capitalize }}"),
            "x|a|ABC|abc|Hello world");
  EXPECT_EQ(render("{{ 'hello world-foo(bar'|title }}|{{ 'hello'|replace('l', 'L') }}|{{ 'hello'|replace('l', 'L', 1) }}"),
            "Hello World-Foo(Bar|heLLo|heLlo");
  EXPECT_EQ(render("{{ 'Ünïcödé 🦙'|length }}|{{ 'Ünïcödé'|upper }}|{{ 'ÀÉÎ'|lower }}|{{ 'привет'|upper }}"),
            "9|ÜNÏCÖDÉ|àéî|ПРИВЕТ");
  EXPECT_EQ(render("{{ '<a>&\"\\''|escape }}|{{ '<b>'|safe }}|{{ 'x'|center(5) }}|{{ 'a b  c'|wordcount }}"),
            "&lt;a&gt;&amp;&#34;&#39;|<b>|  x  |3");
  EXPECT_EQ(render("{{ 'a\\nb\\n\\nc'|indent(2) }}|{{ 'a\\nb'|indent(2, true) }}"), "a\n  b\n\n  c|  a\n  b");
  EXPECT_EQ(render("{{ '%s and %d'|format('a', 3) }}|{{ '%05.2f'|format(3.14159) }}|{{ '%s-%s' % ('a', 'b') }}"),
            "a and 3|03.14|a-b");
}

TEST(ChatTemplateFilters, ConversionFilters) {
  EXPECT_EQ(render("{{ '42'|int }}|{{ '4.7'|int }}|{{ 'x'|int }}|{{ 'x'|int(5) }}|{{ 3.9|int }}|{{ '1A'|int(base=16) }}"),
            "42|4|0|5|3|26");
  EXPECT_EQ(render("{{ '3.5'|float }}|{{ 'x'|float }}|{{ -3|abs }}|{{ 5|string }}|{{ [1, 'a']|string }}"),
            "3.5|0.0|3|5|[1, 'a']");
  EXPECT_EQ(render("{{ 2.567|round(2) }}|{{ 2.5|round }}|{{ 3.5|round }}|{{ 2.5|round(method='floor') }}|{{ 7|round }}"),
            "2.57|2.0|4.0|2.0|7");
  EXPECT_EQ(render("{{ x|default('D') }}|{{ none|default('D') }}|{{ ''|default('D', true) }}|{{ x|d('d') }}"), "D|None|D|d");
}

TEST(ChatTemplateFilters, SequenceFilters) {
  EXPECT_EQ(render("{{ [1, 2, 3]|length }}|{{ 'abc'|count }}|{{ [1, 2]|first }}|{{ [1, 2]|last }}|{{ 'ab'|list }}|{{ [1, 2]|join('-') }}"),
            "3|3|1|2|['a', 'b']|1-2");
  EXPECT_EQ(render("{{ [3, 1, 2]|sort }}|{{ ['b', 'A', 'c']|sort }}|{{ ['b', 'A', 'c']|sort(case_sensitive=true) }}|{{ [1, 3, 2]|sort(reverse=true) }}"),
            "[1, 2, 3]|['A', 'b', 'c']|['A', 'b', 'c']|[3, 2, 1]");
  EXPECT_EQ(render("{{ [1, 2, 2, 'a', 'A']|unique|list }}|{{ [1, 2, 3]|reverse|list }}|{{ 'abc'|reverse }}"),
            "[1, 2, 'a']|[3, 2, 1]|cba");
  EXPECT_EQ(render("{{ [1, 2, 3]|sum }}|{{ [1, 5, 3]|max }}|{{ [4, 2, 8]|min }}|{{ [1, 2, 3, 4, 5]|batch(2)|list }}"),
            "6|5|2|[[1, 2], [3, 4], [5]]");
  EXPECT_EQ(render("{{ d|items|list }}|{{ d|dictsort }}|{{ nothing|items|list }}", {{"d", {{"b", 1}, {"a", 2}}}}),
            "[('b', 1), ('a', 2)]|[('a', 2), ('b', 1)]|[]");
}

TEST(ChatTemplateFilters, SelectAndMap) {
  const Json context = conversation();
  EXPECT_EQ(render("{{ messages|map(attribute='role')|join(', ') }}", context), "system, user, assistant");
  EXPECT_EQ(render("{{ messages|selectattr('role', 'equalto', 'user')|map(attribute='content')|list }}", context), "['hi']");
  EXPECT_EQ(render("{{ messages|rejectattr('role', 'eq', 'user')|list|length }}", context), "2");
  EXPECT_EQ(render("{{ messages|selectattr('missing', 'defined')|list }}", context), "[]");
  EXPECT_EQ(render("{{ [0, 1, '', 'a']|select|list }}|{{ [0, 1, 2, 3]|reject('odd')|list }}|{{ [1, 2, 3]|select('gt', 1)|list }}"),
            "[1, 'a']|[0, 2]|[2, 3]");
  EXPECT_EQ(render("{{ ['a', 'b']|map('upper')|list }}|{{ messages|map(attribute='x', default='?')|join }}", context),
            "['A', 'B']|???");
}

TEST(ChatTemplateFilters, ToJson) {
  const Json context = Json::parse(R"J({"tool": {"name": "get", "description": "Ünïcode 🦙", "args": [1, 2.5, null, true]}})J");
  EXPECT_EQ(render("{{ tool|tojson }}", context),
            R"J({"name": "get", "description": "Ünïcode 🦙", "args": [1, 2.5, null, true]})J");
  EXPECT_EQ(render("{{ tool|tojson(indent=2) }}", context),
            "{\n  \"name\": \"get\",\n  \"description\": \"Ünïcode 🦙\",\n  \"args\": [\n    1,\n    2.5,\n    null,\n    true\n  ]\n}");
  EXPECT_EQ(render("{{ {}|tojson(indent=2) }}|{{ []|tojson(indent=2) }}|{{ 'é\"\\\\\\n'|tojson }}"), "{}|[]|\"é\\\"\\\\\\n\"");
  EXPECT_EQ(render("{{ {'b': 1, 'a': 2}|tojson(sort_keys=true) }}|{{ [1, 2]|tojson(separators=[',', ':']) }}"),
            R"J({"a": 2, "b": 1}|[1,2])J");
  EXPECT_EQ(render("{{ 'é🦙'|tojson(ensure_ascii=true) }}"), R"J("\u00e9\ud83e\udd99")J");
  EXPECT_EQ(render_error("{{ nothing|tojson }}").kind(), ChatTemplateErrorKind::runtime);
}

// ---- methods and globals ----

TEST(ChatTemplateMethods, StringMethods) {
  EXPECT_EQ(render("{{ '  x  '.strip() }}|{{ '  x  '.lstrip() }}|{{ '  x  '.rstrip() }}|{{ 'xax'.strip('x') }}"), "x|x  |  x|a");
  EXPECT_EQ(render("{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a b c'.split(none, 1) }}|{{ 'a-b-c'.split('-', 1) }}"),
            "['a', 'b', '', 'c']|['a', 'b']|['a', 'b c']|['a', 'b-c']");
  EXPECT_EQ(render("{{ 'abc'.startswith('a') }}{{ 'abc'.endswith('bc') }}{{ 'abc'.startswith(('x', 'a')) }}"), "TrueTrueTrue");
  EXPECT_EQ(render("{{ 'ab'.upper() }}|{{ 'AB'.lower() }}|{{ \"they're\".title() }}|{{ 'hELLO'.capitalize() }}"),
            "AB|ab|They'Re|Hello");
  EXPECT_EQ(render("{{ 'hello'.replace('l', 'L') }}|{{ 'héllo'.find('l') }}|{{ 'hello'.count('l') }}|{{ '-'.join(['a', 'b']) }}"),
            "heLLo|2|2|a-b");
  EXPECT_EQ(render("{{ '{} is {}'.format('a', 1) }}|{{ '{0}{0}{name}'.format('x', name='y') }}"), "a is 1|xxy");
  const std::string think = "{% set c = '<think>plan</think>\\n\\nanswer' %}{{ c.split('</think>')[-1].lstrip('\\n') }}";
  EXPECT_EQ(render(think), "answer");
}

TEST(ChatTemplateMethods, DictMethodsAndImmutability) {
  const Json context = {{"d", {{"a", 1}, {"b", 2}}}};
  EXPECT_EQ(render("{{ d.items()|list }}|{{ d.keys()|list }}|{{ d.values()|list }}|{{ d.get('a') }}|{{ d.get('z') }}|{{ d.get('z', 9) }}",
                   context),
            "[('a', 1), ('b', 2)]|['a', 'b']|[1, 2]|1|None|9");
  const ChatTemplateError error = render_error("{{ l.append(1) }}", {{"l", {1}}});
  EXPECT_NE(std::string(error.what()).find("append"), std::string::npos) << error.what();
  EXPECT_EQ(render_error("{{ d.update({}) }}", context).kind(), ChatTemplateErrorKind::runtime);
}

TEST(ChatTemplateGlobals, RangeDictNamespace) {
  EXPECT_EQ(render("{{ range(5)|list }}|{{ range(2, 10, 3)|list }}|{{ range(5, 0, -2)|list }}|{{ range(0)|list }}"),
            "[0, 1, 2, 3, 4]|[2, 5, 8]|[5, 3, 1]|[]");
  EXPECT_EQ(render("{{ dict(a=1, b='x') }}|{{ namespace(a=1).a }}|{{ namespace({'k': 2}).k }}"), "{'a': 1, 'b': 'x'}|1|2");
}

TEST(ChatTemplateGlobals, RaiseException) {
  const ChatTemplateError error = render_error("{% if true %}{{ raise_exception('Roles must alternate') }}{% endif %}");
  EXPECT_EQ(error.kind(), ChatTemplateErrorKind::raised);
  EXPECT_EQ(std::string(error.what()), "Roles must alternate");
}

TEST(ChatTemplateGlobals, StrftimeNowUsesInjectedClock) {
  EXPECT_EQ(render("{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%Y-%m-%d') }}|{{ strftime_now is defined }}"),
            "15 Jan 2026|2026-01-15|True");
}

// ---- sandbox limits ----

TEST(ChatTemplateLimits, HugeRange) {
  const ChatTemplateError error = render_error("{% for i in range(10000000) %}{% endfor %}");
  EXPECT_EQ(error.kind(), ChatTemplateErrorKind::limit);
  EXPECT_NE(std::string(error.what()).find("100000"), std::string::npos) << error.what();
}

TEST(ChatTemplateLimits, TotalLoopIterations) {
  const ChatTemplateError error = render_error("{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}");
  EXPECT_EQ(error.kind(), ChatTemplateErrorKind::limit);
  EXPECT_EQ(std::string(error.what()), "chat template error at line 1: for loops exceed the limit of 100000 iterations");

  RenderLimits limits;
  limits.max_loop_iterations = 10;
  EXPECT_EQ(render("{% for i in range(10) %}.{% endfor %}", Json::object(), limits), "..........");
  EXPECT_EQ(render_error("{% for i in range(5) %}{% for j in range(3) %}{% endfor %}{% endfor %}", Json::object(), limits).kind(),
            ChatTemplateErrorKind::limit);
}

TEST(ChatTemplateLimits, MacroRecursionDepth) {
  const ChatTemplateError error = render_error("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
  EXPECT_EQ(error.kind(), ChatTemplateErrorKind::limit);
  EXPECT_NE(std::string(error.what()).find("macro calls nest deeper than the limit of 64"), std::string::npos)
      << error.what();
}

TEST(ChatTemplateLimits, StringAndOutputSize) {
  EXPECT_EQ(render_error("{{ 'x' * 100000000 }}").kind(), ChatTemplateErrorKind::limit);
  EXPECT_EQ(render_error("{{ ['x'] * 1000000 }}").kind(), ChatTemplateErrorKind::limit);
  EXPECT_EQ(render_error("{% for i in range(100000) %}{{ 'x' * 20 }}{% endfor %}").kind(), ChatTemplateErrorKind::limit);
  EXPECT_EQ(render_error("{{ ('x' * 1000000)|replace('x', 'yy') }}").kind(), ChatTemplateErrorKind::limit);
  EXPECT_EQ(render_error("{{ (['x' * 100000] * 100)|join }}").kind(), ChatTemplateErrorKind::limit);
  EXPECT_EQ(render_error("{{ (['x' * 100000] * 100)|string }}").kind(), ChatTemplateErrorKind::limit);
  EXPECT_EQ(render_error("{{ '%999999999s'|format('x') }}").kind(), ChatTemplateErrorKind::limit);
  EXPECT_EQ(render_error("{{ 'a\\nb'|indent(1000000000000) }}").kind(), ChatTemplateErrorKind::limit);
  EXPECT_EQ(render_error("{{ 'x'|center(1000000000000) }}").kind(), ChatTemplateErrorKind::limit);

  const ChatTemplateError error = render_error(
      "{% set ns = namespace(s='x' * 500000) %}{% for i in range(100000) %}{% set ns.s = ns.s ~ '' %}{% endfor %}");
  EXPECT_EQ(error.kind(), ChatTemplateErrorKind::limit);
  EXPECT_NE(std::string(error.what()).find("in total"), std::string::npos) << error.what();
}

TEST(ChatTemplateLimits, SourceSizeAndNesting) {
  RenderLimits limits;
  limits.max_source_bytes = 16;
  EXPECT_EQ(render_error("{{ 'this template is too long' }}", Json::object(), limits).kind(), ChatTemplateErrorKind::limit);
  const std::string deep = "{{ " + std::string(100, '(') + "1" + std::string(100, ')') + " }}";
  EXPECT_EQ(render_error(deep).kind(), ChatTemplateErrorKind::limit);
  std::string nested_ifs;
  for (int i = 0; i < 100; ++i) nested_ifs += "{% if true %}";
  for (int i = 0; i < 100; ++i) nested_ifs += "{% endif %}";
  EXPECT_EQ(render_error(nested_ifs).kind(), ChatTemplateErrorKind::limit);
}

TEST(ChatTemplateLimits, SelfReferencingNamespace) {
  EXPECT_EQ(render("{% set ns = namespace() %}{% set ns.self = ns %}{{ ns.self.self is defined }}"), "True");
}

// ---- syntax errors ----

TEST(ChatTemplateSyntax, ErrorsNameTheLine) {
  struct Case {
    std::string source;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"line1\n{% if x %}\nnever closed", "chat template syntax error at line 2: 'if' block is not closed with '{% endif %}'"},
      {"a\nb {{ 1 + }}", "chat template syntax error at line 2: expected an expression, got '}}'"},
      {"\n\n{% frobnicate %}", "chat template syntax error at line 3: unknown tag 'frobnicate'"},
      {"{% endfor %}", "chat template syntax error at line 1: unexpected 'endfor' outside any block"},
      {"{% for x in y %}\n{% endif %}", "chat template syntax error at line 2: unexpected 'endif' in the 'for' block opened at line 1"},
      {"x\n{{ y | nosuchfilter }}", "chat template syntax error at line 2: unknown filter 'nosuchfilter'"},
      {"{{ 'unclosed }}", "chat template syntax error at line 1: string literal is not closed"},
      {"a\n{# unclosed", "chat template syntax error at line 2: comment is not closed with '#}'"},
      {"{{ x ", "chat template syntax error at line 1: tag is not closed with '}}'"},
      {"{{ (1 }}", "chat template syntax error at line 1: unexpected '}'"},
      {"{{ 1 ] }}", "chat template syntax error at line 1: unexpected ']'"},
  };
  for (const Case& test_case : cases) {
    const ChatTemplateError error = render_error(test_case.source);
    EXPECT_EQ(error.kind(), ChatTemplateErrorKind::syntax) << test_case.source;
    EXPECT_EQ(std::string(error.what()), test_case.message) << test_case.source;
  }
}

TEST(ChatTemplateSyntax, RuntimeErrorsNameTheLine) {
  const ChatTemplateError error = render_error("line1\nline2\n{{ 'a' + 1 }}");
  EXPECT_EQ(std::string(error.what()), "chat template error at line 3: unsupported operand types for +: 'str' and 'int'");
}

// ---- facade ----

TEST(ChatTemplateFacade, NullContentIsNoneInRender) {
  const Json context = Json::parse(R"J({"m": {"role": "assistant", "content": null}})J");
  EXPECT_EQ(render("{{ m.content is none }}|{{ m.content }}", context), "True|None");
}

TEST(ChatTemplateFacade, RenderChatConvertsNullContent) {
  const ChatTemplate chat_template(
      "{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content is none }}:{{ m.content }}{% endfor %}"
      "{% if add_generation_prompt %}<assistant>{% endif %}{{ eos_token }}");
  const Json messages = Json::parse(R"J([
      {"role": "user", "content": null},
      {"role": "assistant", "content": null, "tool_calls": [{"function": {"name": "f"}}]}])J");
  EXPECT_EQ(render_chat(chat_template, messages, true, "<s>", "</s>"),
            "<s><user>False:<assistant>True:None<assistant></s>");
  EXPECT_EQ(render_chat(chat_template, messages, false, "", ""), "<user>False:<assistant>True:None");
}

TEST(ChatTemplateFacade, RenderChatWithMessagesAndTools) {
  const ChatTemplate chat_template("{% for m in messages %}{{ m.role }}:{{ m.content }};{% endfor %}{{ tools|tojson }}");
  std::vector<ChatMessage> messages = {{"user", "hi", Json::object()}, {"assistant", std::nullopt, Json::object()}};
  const Json extra = Json::parse(R"J({"tools": [{"type": "function", "function": {"name": "f"}}]})J");
  EXPECT_EQ(render_chat(chat_template, messages, false, "", "", extra),
            R"J(user:hi;assistant:;[{"type": "function", "function": {"name": "f"}}])J");
}

TEST(ChatTemplateFacade, KeepsJsonKeyOrder) {
  const Json context = Json::parse(R"J({"o": {"zeta": 1, "alpha": 2, "mid": {"y": 1, "x": 2}}})J");
  EXPECT_EQ(render("{{ o|tojson }}", context), R"J({"zeta": 1, "alpha": 2, "mid": {"y": 1, "x": 2}})J");
}

TEST(ChatTemplateFacade, StripLeadingBos) {
  EXPECT_EQ(strip_leading_bos("<s>hello", "<s>"), "hello");
  EXPECT_EQ(strip_leading_bos("<s><s>hello", "<s>"), "<s>hello");
  EXPECT_EQ(strip_leading_bos("hello<s>", "<s>"), "hello<s>");
  EXPECT_EQ(strip_leading_bos("hello", ""), "hello");
}

TEST(ChatTemplateFacade, ContextMustBeObject) {
  const ChatTemplate chat_template("x");
  EXPECT_THROW(chat_template.render(Json::array()), ChatTemplateError);
}

TEST(ChatTemplateFacade, RendersFromSeveralThreads) {
  const ChatTemplate chat_template("{% for m in messages %}{{ m.role }}{% endfor %}{{ strftime_now('%Y') }}");
  std::vector<std::string> outputs(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < outputs.size(); ++i) {
    threads.emplace_back([&, i] {
      for (int repeat = 0; repeat < 50; ++repeat) outputs[i] = chat_template.render(conversation());
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const std::string& output : outputs) EXPECT_EQ(output.substr(0, 19), "systemuserassistant");
}

}  // namespace
}  // namespace kvinfer::chat
