"""Request validation from the pinned spec's schemas, failing as upstream 3.1.0 fails: zod 4's issues.

Upstream validates every request with zod (nestjs-zod) and answers 400 {"message": "Validation failed", "errors":
[issues]}. The spec was generated from those zod schemas, so each schema construct maps back to the zod construct
upstream uses, and to the issue it raises:
  string / uuid (z.uuidv4) / email (toEmail) / date-time (isoDatetimeToDate) / date (isoDateToDate) / pattern
  integer (z.int, safe range implicit) / number / boolean / enum (z.enum) / array / object / record / nullable
with zod's messages (locales/en) and upstream's custom ones (validation.ts: email and ISO dates). Query and path
values arrive as text and are coerced as upstream's schemas do (z.coerce.number, stringToBool).
Unknown object keys are stripped (zod's default), values are returned cleaned (emails lower-cased).
"""
from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

UNDEFINED: Any = object()   # a key that is not there (zod's `undefined`)
SAFE_INT = 9007199254740991
Issue = dict[str, Any]
Path = list[str | int]


def parsed_type(value: Any) -> str:
    """zod's util.parsedType: the received type named in invalid_type messages."""
    if value is UNDEFINED:
        return "undefined"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "nan" if value != value else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def js_typeof(value: Any) -> str:
    """JavaScript's `typeof` (upstream's custom messages use it)."""
    t = parsed_type(value)
    return {"null": "object", "array": "object", "nan": "number"}.get(t, t)


def _received(value: Any) -> str:
    return {"nan": "NaN"}.get(parsed_type(value), parsed_type(value))


def invalid_type(expected: str, value: Any, path: Path, message: str | None = None) -> Issue:
    issue: Issue = {"expected": expected, "code": "invalid_type", "path": path,
                    "message": message or f"Invalid input: expected {expected}, received {_received(value)}"}
    if isinstance(value, float) and value != value:
        issue = {"expected": expected, "code": "invalid_type", "received": "NaN", "path": path,
                 "message": issue["message"]}
    return issue


def custom(path: Path, message: str) -> Issue:
    return {"code": "custom", "path": path, "message": message}


def _js(v: Any) -> str:
    """A primitive as zod's stringifyPrimitive / joinValues write it (strings in double quotes)."""
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, bool):
        return "true" if v else "false"
    return "null" if v is None else str(v)


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(v)


_FORMAT_MESSAGES = {
    "email": "Invalid input: expected email, received {t}",                       # upstream toEmail
    "date-time": "Invalid input: expected ISO 8601 datetime string, received {t}",  # isoDatetimeToDate
    "date": "Invalid input: expected ISO date string (YYYY-MM-DD), received {t}",   # isoDateToDate
}
_ZOD_FORMAT = {"uuid": "uuid", "email": "email", "date-time": "datetime", "date": "date", "uri": "url"}
_DEFAULT_PATTERNS = {
    "uuid": r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-4[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12})$",
    "email": r"^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
             r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$",
}
_REGEX_CACHE: dict[str, re.Pattern[str]] = {}
_URL_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:(?!//)\S|^[a-zA-Z][a-zA-Z0-9+.-]*://[^\s/?#]+")


def _compile(pattern: str) -> re.Pattern[str]:
    rx = _REGEX_CACHE.get(pattern)
    if rx is None:  # JavaScript's \d and \w are ASCII-only
        rx = _REGEX_CACHE[pattern] = re.compile(pattern, re.ASCII)
    return rx


class Validator:
    """Walks a value against a (resolved) spec schema, collecting zod issues."""

    def __init__(self, resolve: Any):
        self.resolve = resolve
        self.issues: list[Issue] = []

    def add(self, issue: Issue) -> None:
        self.issues.append(issue)

    def check(self, value: Any, schema: dict[str, Any], path: Path) -> Any:
        ref = schema.get("$ref")
        if ref is not None and ref.rsplit("/", 1)[-1] in REFINEMENTS:
            before = len(self.issues)
            out = self.check(value, self.resolve(schema), path)
            REFINEMENTS[ref.rsplit("/", 1)[-1]](self, value, path, before)
            return out
        schema = self.resolve(schema)
        if "allOf" in schema:
            merged: dict[str, Any] = {}
            for part in schema["allOf"]:
                merged.update(self.resolve(part))
            merged.update({k: v for k, v in schema.items() if k != "allOf"})
            return self.check(value, merged, path)
        if value is None and schema.get("nullable"):
            return None
        for key in ("anyOf", "oneOf"):
            if key in schema:
                return self._union(value, schema[key], path)
        if "enum" in schema:
            return self._enum(value, schema["enum"], path)
        t = schema.get("type")
        if t == "object" or "properties" in schema or "additionalProperties" in schema:
            return self._object(value, schema, path)
        if t == "array":
            return self._array(value, schema, path)
        if t == "string":
            return self._string(value, schema, path)
        if t in ("integer", "number"):
            return self._number(value, schema, path)
        if t == "boolean":
            if not isinstance(value, bool):
                self.add(invalid_type("boolean", value, path))
            return value
        return value

    def _union(self, value: Any, options: list[Any], path: Path) -> Any:
        errors = []
        for option in options:
            trial = Validator(self.resolve)
            out = trial.check(value, option, path)
            if not trial.issues:
                return out
            errors.append(trial.issues)
        self.add({"code": "invalid_union", "errors": errors, "path": path, "message": "Invalid input"})
        return value

    def _enum(self, value: Any, values: list[Any], path: Path) -> Any:
        if value not in values or isinstance(value, bool) != any(isinstance(v, bool) for v in values):
            message = (f"Invalid input: expected {_js(values[0])}" if len(values) == 1
                       else "Invalid option: expected one of " + "|".join(_js(v) for v in values))
            self.add({"code": "invalid_value", "values": list(values), "path": path, "message": message})
        return value

    def _object(self, value: Any, schema: dict[str, Any], path: Path) -> Any:
        if not isinstance(value, dict):
            self.add(invalid_type("object" if "properties" in schema else "record", value, path))
            return value
        props = schema.get("properties")
        if props is None:
            extra = schema.get("additionalProperties")
            if isinstance(extra, dict) and extra:
                return {k: self.check(v, extra, [*path, k]) for k, v in value.items()}
            return value
        required = set(schema.get("required", []))
        out = {}
        for key, prop in props.items():
            if key in value:
                out[key] = self.check(value[key], prop, [*path, key])
            elif key in required:
                self.check(UNDEFINED, prop, [*path, key])
        return out

    def _array(self, value: Any, schema: dict[str, Any], path: Path) -> Any:
        if not isinstance(value, list):
            self.add(invalid_type("array", value, path))
            return value
        items = schema.get("items", {})
        out = [self.check(v, items, [*path, i]) for i, v in enumerate(value)]
        if "minItems" in schema and len(value) < schema["minItems"]:
            n = schema["minItems"]
            self.add({"origin": "array", "code": "too_small", "minimum": n, "inclusive": True, "path": path,
                      "message": f"Too small: expected array to have >={n} items"})
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            n = schema["maxItems"]
            self.add({"origin": "array", "code": "too_big", "maximum": n, "inclusive": True, "path": path,
                      "message": f"Too big: expected array to have <={n} items"})
        return out

    def _string(self, value: Any, schema: dict[str, Any], path: Path) -> Any:
        fmt = schema.get("format")
        if fmt in ("date-time", "date") and "pattern" not in schema:
            fmt = None  # a plain z.string() with a format hint (e.g. a person's birthDate), not an ISO codec
        custom_message = _FORMAT_MESSAGES.get(fmt or "")
        if not isinstance(value, str):
            message = custom_message.format(t=js_typeof(value)) if custom_message else None
            self.add(invalid_type("string", value, path, message))
            return value
        if fmt == "uri":  # z.url(): what WHATWG's URL parser accepts needs at least a scheme
            if not _URL_RE.match(value):
                self.add({"code": "invalid_format", "format": "url", "path": path, "message": "Invalid URL"})
            return value
        if fmt in ("uuid", "email", "date-time", "date"):
            pattern = schema.get("pattern") or _DEFAULT_PATTERNS.get(fmt)
            ok = bool(_compile(pattern).match(value)) if pattern else True
            if ok and fmt == "date-time":
                ok = _datetime_ok(value)
            elif ok and fmt == "date":
                ok = _date_ok(value)
            if not ok:
                issue: Issue = {"origin": "string", "code": "invalid_format", "format": _ZOD_FORMAT[fmt]}
                if pattern:
                    issue["pattern"] = f"/{pattern}/"
                issue["path"] = path
                issue["message"] = custom_message.format(t="string") if custom_message else "Invalid UUID"
                self.add(issue)
                return value
            if fmt == "uuid":
                return value.lower()
            if fmt == "email":
                return value.lower()
            return value
        n = len(value)  # JS length counts UTF-16 units; close enough for the limits in the spec
        if "minLength" in schema and n < schema["minLength"]:
            m = schema["minLength"]
            self.add({"origin": "string", "code": "too_small", "minimum": m, "inclusive": True, "path": path,
                      "message": f"Too small: expected string to have >={m} characters"})
        if "maxLength" in schema and n > schema["maxLength"]:
            m = schema["maxLength"]
            self.add({"origin": "string", "code": "too_big", "maximum": m, "inclusive": True, "path": path,
                      "message": f"Too big: expected string to have <={m} characters"})
        pattern = schema.get("pattern")
        if pattern and not _compile(pattern).search(value):
            self.add({"origin": "string", "code": "invalid_format", "format": "regex", "pattern": f"/{pattern}/",
                      "path": path, "message": f"Invalid string: must match pattern /{pattern}/"})
        return value

    def _number(self, value: Any, schema: dict[str, Any], path: Path) -> Any:
        integer = schema.get("type") == "integer"
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value \
                or value in (float("inf"), float("-inf")):
            self.add(invalid_type("number", value, path))
            return value
        if integer:
            if isinstance(value, float) and not value.is_integer():
                self.add({"expected": "int", "format": "safeint", "code": "invalid_type", "path": path,
                          "message": "Invalid input: expected int, received number"})
                return value
            value = int(value)
            if abs(value) > SAFE_INT:
                big = value > 0
                self.add({"code": "too_big" if big else "too_small",
                          ("maximum" if big else "minimum"): SAFE_INT if big else -SAFE_INT,
                          "note": "Integers must be within the safe integer range.", "origin": "int",
                          "inclusive": True, "path": path,
                          "message": f"Too {'big' if big else 'small'}: expected int to be "
                                     f"{'<=' if big else '>='}{SAFE_INT if big else -SAFE_INT}"})
                return value
        lo, hi = schema.get("minimum"), schema.get("maximum")
        if lo is not None and not (integer and lo == -SAFE_INT) and value < lo:
            self.add({"origin": "number", "code": "too_small", "minimum": lo, "inclusive": True, "path": path,
                      "message": f"Too small: expected number to be >={_num(lo)}"})
        if hi is not None and not (integer and hi == SAFE_INT) and value > hi:
            self.add({"origin": "number", "code": "too_big", "maximum": hi, "inclusive": True, "path": path,
                      "message": f"Too big: expected number to be <={_num(hi)}"})
        return value


# what JavaScript's String.prototype.trim() removes (Python's str.strip() also removes \x1c-\x1f and \x85)
JS_WHITESPACE = " \t\n\v\f\r\u00a0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000\ufeff"


# --- refinements: DTO rules upstream states as zod `.refine` (so not in the spec), checked with the schema ------

def _refine_unique_nonempty(*fields: str) -> Any:
    """Upstream library.dto stringArrayMax128: items not blank, items unique. Like zod, each refinement runs
    unless the array itself failed to parse (a non-string item), and its issue follows the field's own."""
    def refine(v: Validator, value: Any, path: Path, start: int) -> None:
        if not isinstance(value, dict):
            return
        for field in fields:
            items = value.get(field)
            if not isinstance(items, list):
                continue
            own = [i for i, issue in enumerate(v.issues[start:], start) if issue["path"][:len(path) + 1] ==
                   [*path, field]]
            if any(len(v.issues[i]["path"]) > len(path) + 1 for i in own):
                continue  # an item failed: zod aborts the refinements
            found = []
            if not all(s.strip(JS_WHITESPACE) for s in items):
                found.append(custom([*path, field], "Array items must not be empty"))
            if len(set(items)) != len(items):
                found.append(custom([*path, field], "Array must have unique items"))
            at = (own[-1] + 1) if own else len(v.issues)
            v.issues[at:at] = found
    return refine


REFINEMENTS: dict[str, Any] = {
    name: _refine_unique_nonempty("importPaths", "exclusionPatterns")
    for name in ("CreateLibraryDto", "UpdateLibraryDto", "ValidateLibraryDto")
}


def _datetime_ok(value: str) -> bool:
    try:
        datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value)
        return True
    except ValueError:
        return False


def _date_ok(value: str) -> bool:
    try:
        date.fromisoformat(value)
        return True
    except ValueError:
        return False


def coerce(raw: str, schema: dict[str, Any]) -> Any:
    """A query or path value (text) as upstream's schema reads it: numbers through z.coerce.number() (so "abc"
    becomes NaN and fails as "received NaN"), booleans through stringToBool (only "true"/"false")."""
    t = schema.get("type")
    if t in ("integer", "number"):
        text = raw.strip()
        if text == "":
            return 0  # Number("") is 0
        try:
            n = float(text)
        except ValueError:
            return float("nan")
        return int(n) if n.is_integer() and "." not in text and "e" not in text.lower() else n
    return raw


def check_stringbool(raw: str, path: Path) -> tuple[Any, Issue | None]:
    """upstream stringToBool: z.stringbool({truthy: ['true'], falsy: ['false'], case: 'sensitive'})."""
    if raw == "true":
        return True, None
    if raw == "false":
        return False, None
    return raw, {"code": "invalid_value", "expected": "stringbool", "values": ["true", "false"], "path": path,
                 "message": 'Invalid option: expected one of "true"|"false"'}
