"""Value checks for credential detectors: placeholders, code references, randomness, JWT structure.

Pattern rules for secrets find *candidates* (a value after `password =`, a `scheme://u:p@host`
URL, a token-shaped string); these checks decide whether the candidate is a real value or a
placeholder, a template variable, an identifier in code, a hash or a documentation example.
They are registered in guard.detect.validators.VALIDATORS and named from rules/ (`validate:`).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections import Counter
from collections.abc import Callable

# Substrings that mark a documentation value, not a live credential (lowercased comparison).
PLACEHOLDER_WORDS = (
    "example", "sample", "dummy", "placeholder", "changeme", "change_me", "change-me", "changeit",
    "your_", "your-", "yourkey", "yourtoken", "yourpass", "yoursecret", "yourapi", "my_api", "myapikey",
    "replace", "insert", "redacted", "censored", "xxxx", "****", "...", "…", "${", "{{",
    "}}", "$(", "notreal", "not_real", "not-real", "fixme",
    "put_", "enter_", "_here", "-here", "secret_key_here", "undefined", "lorem", "anonymous",
    "abcdefgh", "bcdefghi", "qwerty",
    "passw", "secret", "token", "apikey", "api_key", "api-key",
)  # fmt: skip

# Short words that mark a placeholder only as a whole word (random tokens contain "tbd", "fake" by chance).
_PLACEHOLDER_WORD_RE = re.compile(r"(?<![a-z])(?:fake|todo|tbd|null)(?![a-z])")

# Whole values that are never a real credential.
PLACEHOLDER_VALUES = frozenset(
    {
        "pass", "test", "testing", "admin", "root", "user", "username", "none", "nil", "true",
        "false", "default", "empty", "string", "str", "value", "required", "optional", "hidden",
        "foo", "bar", "baz", "foobar", "abc", "abc123", "123", "1234", "12345", "123456", "secret",
        "letmein", "welcome", "guest", "qwerty", "demo", "sample", "xyz", "key", "env", "unset",
        "disabled", "enabled", "off", "on", "yes", "no", "n/a", "na", "tba", "password", "passwd",
        "pwd", "mypassword", "yourpassword", "newpassword", "oldpassword", "p@ssw0rd", "passw0rd",
    }
)  # fmt: skip

# A value that is a reference to something else: shell/env variables, code expressions.
# ...and $2b$/$6$/$argon2id$ crypt hashes, which are stored digests rather than passwords.
_REFERENCE_RE = re.compile(
    r"""^(?:!?\$[A-Za-z_]\w*$|\$(?:2[abxy]?|[156]|argon2(?:id|i|d)|scrypt|pbkdf2[\w-]*)\$|\$\{|\$\(|%\w+%|\{\{|\[|\(|`)"""  # $VAR ${VAR} %VAR% {{tmpl}} <placeholder>
    r"""|^(?-i:[@&*!](?:[a-z_][a-z0-9_.-]*|[A-Z_][A-Z0-9_]*|Ref|GetAtt|Sub|vault))$"""  # @var &anchor *alias !Ref
    r"""|(?:process\.env|os\.environ|getenv|environ\[|secrets\.|vault:|ssm:|env\()""",
    re.IGNORECASE,
)
# foo.bar.baz, self.password, var.db_password, settings.SECRET_KEY: attribute access in code.
_DOTTED_RE = re.compile(r"^[A-Za-z_$][\w$]*(?:(?:\.|->|::)[A-Za-z_$][\w$]*)+(?:\(\))?$")
_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z_-]*$")
# printf / str.format / angle-bracket placeholders: %s %d %(name)s {} {0} <token> <your key>
_PRINTF_RE = re.compile(r"%[sdr](?![A-Za-z0-9])|%\(\w+\)[sdr]|\{\d*\}|<[^<>]{0,40}>|^<|>$")
_HEX_RE = re.compile(r"^[0-9a-fA-F]+$")
_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_RUN_RE = re.compile(r"(.)\1{5,}")  # six or more of the same character: filler, not entropy
_LONG_RUN_RE = re.compile(r"(.)\1{7,}")
# A correctly formed vendor token is reported by its own rule; a generic key=value finding whose
# value starts with a vendor prefix but fails that format is a truncated or made-up example.
_VENDOR_PREFIX_RE = re.compile(
    r"^(?:xox[abposre][.-]|xapp-|gh[pousr]_|github_pat_|glpat-|sk_live_|sk_test_|rk_live_|dapi|AKIA|ASIA|"
    r"hf_|npm_|pypi-|SG\.|sk-ant-|shpat_|glsa_|glc_|dop_v1_|AIza)"
)
_CODE_CHARS = set("()[]{};")
_SNAKE_RE = re.compile(r"^[a-z]+(?:[_-][a-z]+)+$")  # user_pass, shorter-version: identifiers, slugs
_RESOURCE_NAME_RE = re.compile(r"^[a-z][a-z0-9]*(?:[-_.][a-z0-9]+)+$")
_PATH_RE = re.compile(r"^(?:~?/|\.{1,2}/|[A-Za-z]:\\)")  # /etc/x, ~/x, ./x, C:\x: file paths


def entropy(value: str) -> float:
    """Shannon entropy of the value in bits per character."""
    if not value:
        return 0.0
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def not_placeholder(value: str) -> bool:
    """Reject placeholders, template variables, filler runs and documentation examples."""
    v = value.strip().strip("\"'`")
    low = v.lower()
    if len(v) < 3 or low in PLACEHOLDER_VALUES or len(set(low)) <= 2:
        return False
    if _REFERENCE_RE.search(v):
        return False
    if any(w in low for w in PLACEHOLDER_WORDS) or _PLACEHOLDER_WORD_RE.search(low):
        return False
    if _alphabet_run(low) >= 7 or _PRINTF_RE.search(v):
        return False
    return not _RUN_RE.search(v)


def _alphabet_run(low: str) -> int:
    """Length of the longest run of consecutive ascending letters (abcdefg...): typed, not random."""
    best = run = 1
    for a, b in zip(low, low[1:], strict=False):
        run = run + 1 if a.isalpha() and ord(b) == ord(a) + 1 else 1
        best = max(best, run)
    return best


def _mixed_case_ratio_ok(v: str) -> bool:
    letters = [c for c in v if c.isalpha()]
    if not letters:
        return True
    upper = sum(c.isupper() for c in letters) / len(letters)
    # camelCase identifiers are mostly lower case; random tokens are about half upper case
    return 0.2 <= upper <= 0.8 or upper in (0.0, 1.0)


def _path_like(v: str) -> bool:
    """A/b/c file or URL paths with word segments; base64 keys may hold slashes too, but no words."""
    if v.count("/") < 2 or "+" in v or not re.fullmatch(r"[\w./-]+", v):
        return False
    return any(p.isalpha() and p.islower() and len(p) >= 3 for p in re.split(r"[/._-]", v))


def _resource_name(v: str) -> bool:
    """Lower-case words and numbers joined by - _ . with at least one real word and no long blob."""
    if not _RESOURCE_NAME_RE.match(v):
        return False
    parts = re.split(r"[-_.]", v)
    return any(p.isalpha() and len(p) >= 3 for p in parts) and max(map(len, parts)) <= 16


def secret_like(value: str) -> bool:
    """A token/key value: long, random-looking, not an identifier, path, URL or version string."""
    if not not_placeholder(value):
        return False
    v = value.strip().rstrip(".")  # a sentence may end right after the value
    if len(v) < 10 or _VENDOR_PREFIX_RE.match(v):
        return False
    if _UUID_RE.match(v):
        return True  # many services issue UUID-shaped keys (Heroku, Snyk, ...)
    if _resource_name(v):
        return False  # prod-db-01, cmp2-qat-1208358310: resource names, not keys
    if any(c in _CODE_CHARS for c in v) or " " in v:
        return False
    if _DOTTED_RE.match(v) or "://" in v or _path_like(v):
        return False
    if "@" in v and "." in v.split("@")[-1]:  # an e-mail address or user@host
        return False
    if v.isdigit() or re.fullmatch(r"[\d.:_-]+", v):  # numbers, versions, dates, ports
        return False
    if _UUID_RE.match(v):
        return True  # many services issue UUID-shaped keys (Heroku, Snyk, ...)
    if _IDENT_RE.match(v):
        # letters only: accept only long, mixed-case, non-camelCase strings
        return len(v) >= 16 and _mixed_case_ratio_ok(v) and v.lower() != v and v.upper() != v and entropy(v) >= 3.5
    if not _mixed_case_ratio_ok(v) and not _HEX_RE.match(v):
        # mostly lower case with a few capitals and digits: identifier-like (fooBar2Baz)
        return entropy(v) >= 4.0 and len(v) >= 20
    if re.fullmatch(r"[a-z0-9]+", v) and len(v) < 24 and sum(c.isdigit() for c in v) < 2:
        return False  # symbol2label, utf8codec: lower-case identifiers with a digit
    if _HEX_RE.match(v):
        if v.lower() != v and v.upper() != v:
            return False  # hex digits in mixed case: typed by hand, real hex keys keep one case
        return len(v) >= 16 and entropy(v) >= 2.5  # hex keys: 16 symbols at most
    return entropy(v) >= (3.0 if len(v) < 20 else 3.3)


def keyed_secret(value: str) -> bool:
    """A value assigned to a service-named key: random-looking, or a long numeric key some APIs issue."""
    v = value.strip()
    if v.isdigit():
        return len(v) >= 16 and not _RUN_RE.search(v) and entropy(v) >= 2.5
    return secret_like(v)


def password_like(value: str) -> bool:
    """A password value: not a placeholder, reference or code expression; some variety of characters."""
    v = value.strip()
    if len(v) < 4 or not not_placeholder(v):
        return False
    if _DOTTED_RE.match(v) or any(c in v for c in "()[]{}") or "://" in v or _PATH_RE.match(v):
        return False
    word = v.isalpha() and (v.islower() or v.isupper() or v.istitle())
    if word or v.isdigit() or _SNAKE_RE.match(v):
        # a single dictionary-like word or a bare number is more often a name or a value in code
        return len(v) >= 12 and entropy(v) >= 3.5
    return entropy(v) >= 2.0


def _b64url_json(part: str) -> object | None:
    try:
        raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        return json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None


def jwt(value: str) -> bool:
    """JSON Web Token (RFC 7519): the header (or, failing that, the payload) decodes to a JSON object."""
    parts = value.split(".")
    if len(parts) < 2 or not parts[0].startswith("eyJ"):
        return False
    head = _b64url_json(parts[0])
    if isinstance(head, dict):
        return True
    body = _b64url_json(parts[1])
    return isinstance(body, dict) and parts[0].rstrip("=").endswith(("J9", "fQ", "In0", "Q"))


def high_entropy(value: str) -> bool:
    """A random-looking token: at least 3 bits per character, no filler run, no typed alphabet run."""
    e = entropy(value)
    if e < 3.0 or _alphabet_run(value.lower()) >= 7:
        return False
    # a short filler run inside a long, otherwise random value (base64 of zero bytes) is fine
    return not _RUN_RE.search(value) or (len(value) >= 40 and e >= 4.0 and not _LONG_RUN_RE.search(value[4:]))


SECRET_VALIDATORS: dict[str, Callable[[str], bool]] = {
    "not_placeholder": not_placeholder,
    "secret_like": secret_like,
    "password_like": password_like,
    "keyed_secret": keyed_secret,
    "jwt": jwt,
    "high_entropy": high_entropy,
}
