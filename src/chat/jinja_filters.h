// Jinja's built-in filters ("value | name(args)") and tests ("value is name(args)") that
// chat templates use, with jinja2 3.1's semantics, plus Hugging Face's `tojson`
// (json.dumps with ensure_ascii=False, indent, separators and sort_keys arguments).
//
// The filters are abs, attr, batch, capitalize, center, count, default (d), dictsort,
// escape (e), first, float, format, indent, int, items, join, last, length, list, lower,
// map, max, min, reject, rejectattr, replace, reverse, round, safe, select, selectattr,
// sort, string, sum, title, tojson, trim, unique, upper and wordcount.
//
// The tests are boolean, callable, defined, divisibleby, eq (equalto, ==), escaped, even,
// false, filter, float, ge (>=), gt (greaterthan, >), in, integer, iterable, le (<=),
// lower, lt (lessthan, <), mapping, ne (!=), none, number, odd, sameas, sequence, string,
// test, true, undefined and upper.
#pragma once

#include <string>
#include <string_view>

#include "chat/jinja_call_args.h"
#include "chat/jinja_value.h"
#include "chat/render_limits.h"

namespace kvinfer::chat::jinja {

bool is_filter_name(std::string_view name);
bool is_test_name(std::string_view name);

// Applies filter `name` to `input`. Throws ChatTemplateError for bad arguments or
// input types, and (kind limit) for a string or list result beyond `limits`.
Value apply_filter(std::string_view name, const Value& input, const CallArgs& args, const RenderLimits& limits);

// Applies test `name` to `input`. Throws ChatTemplateError for bad arguments.
bool apply_test(std::string_view name, const Value& input, const CallArgs& args);

// Python's printf-style `pattern % arguments` (also the `format` filter): a tuple gives
// positional arguments, a dict named ones ("%(name)s"), any other value is the single
// argument. Supports %s %r %d %i %x %X %f %F %e %E %g %G and %% with flags, width and
// precision. Throws ChatTemplateError for a mismatch between pattern and arguments.
std::string percent_format(const std::string& pattern, const Value& arguments, const RenderLimits& limits);

}  // namespace kvinfer::chat::jinja
