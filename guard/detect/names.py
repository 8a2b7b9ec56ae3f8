"""English-script person names: a census first-name gazetteer, titles and cue words, plus spaCy fixes.

spaCy's small model misses names in terse records (CSV rows, "Account holder X") and often tags
foreign names as ORG or GPE. This module finds name-shaped token runs (Titlecase words, middle
initials, particles such as van/de) and calls them persons when a first name from the US Census
1990 lists (the `names` package, MIT; the lists are public-domain census data) opens them, a
title (Mr, Dr...) or a cue ("spoke with", "name:") precedes them, or spaCy put an entity there.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

from guard.core import Finding
from guard.detect.intervals import inside

# A Titlecase word of a Latin-script name (accents, apostrophe and hyphen inside: O'Connor, Heß).
_WORD = r"[A-ZÀ-ÖØ-ÞĀ-Ž][a-zß-öø-ÿā-žA-Z'’\-]*[a-zß-öø-ÿā-ž]"
_PARTICLE = r"(?:[vV]an|[vV]on|[dD]e|der|den|het|'t|op|[dD]el|della|[dD]i|[dD]a|dos|das|[dD]u|[lL]a|[lL]e|ten|ter|bin|al|el|die)"
_INITIAL = r"[A-Z]\.?"
# 2-4 name parts: First [Initial] [particles] Last.
NAME_RUN = re.compile(
    rf"(?<![\w@.\-/])(?P<name>{_WORD}(?:[ ](?:{_INITIAL}|{_WORD}))?(?:[ ]{_PARTICLE}){{0,2}}[ ]{_WORD}(?:-{_WORD})?)(?![\w@(\-]|\.\w)"
)
# Degrees and generational suffixes written after a name (Ada Lowe MD, Jan Brink B.Eng.).
_SUFFIX = re.compile(
    r"^,?[ ](?:MD|DDS|DVM|PhD|Ph\.D\.|MBA|MSc|BSc|B\.Eng|M\.Eng|B\.Sc|M\.Sc|Jr|Sr|II|III|IV|Esq|RN|CPA)\.?(?![\w])"
)
_TITLE_BEFORE = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Dame|Herr|Frau|Mme|Mlle|Dipl\.-Ing|Dipl\.-Kfm|Ing|Univ\.Prof|Rev|"
    r"President|Senator|Sen|Governor|Gov|Mayor|Colonel|Col|General|Gen|Captain|Capt|Lieutenant|Lt|Sergeant|Sgt|Officer|Detective|Det|Coach|Judge|Justice|Minister|Chancellor|Pope|Father|Sister|Uncle|Aunt|Auntie|Madam|Madame|Spokesman|Spokeswoman|Secretary|Professor|Doctor|Rabbi|Imam|Archbishop|Prince|Princess|Sheikh|Agent|Commissioner|Chairman|Chairwoman|Rep|Representative)\.?[ ])+$"
)
# First words that make a Titlecase run a place (Lake Ida, East Hollybury, Port Alma).
_PLACE_FIRST = frozenset(
    "lake north south east west port new mount fort saint st upper lower great little old san santa los las".split()
)
# An all-lowercase "first [initial] last" (chat, social media): kept only when both parts are known.
LOWER_PAIR = re.compile(r"(?<![\w@.\-/'])(?P<name>[a-z]{2,}[ ](?:[a-z]\.?[ ])?[a-z]{3,})(?![\w@(\-])")
SINGLE = re.compile(rf"(?<![\w@.\-/])(?P<name>{_WORD})(?![\w@(\-]|\.\w|[ ][A-ZÀ-Þ])")
_TITLE = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Dame|Lady|Lord|Herr|Frau|Mme|Mlle|Sr|Sra|Dipl\.-Ing|Rev|"
    r"President|Senator|Sen|Governor|Gov|Mayor|Colonel|Col|General|Gen|Captain|Capt|Lieutenant|Lt|Sergeant|Sgt|Officer|Detective|Det|Coach|Judge|Justice|Minister|Chancellor|Pope|Father|Sister|Uncle|Aunt|Auntie|Madam|Madame|Spokesman|Spokeswoman|Secretary|Professor|Doctor|Rabbi|Imam|Archbishop|Prince|Princess|Sheikh|Agent|Commissioner|Chairman|Chairwoman|Rep|Representative)\.?|\bM\.)[ ]$"
)
# Words that say "a person's name follows" (record labels, correspondence, reporting).
_CUE = re.compile(
    r"(?i:\b(?:name|named|called|customer|client|patient|employee|colleague|contact|tenant|beneficiary|"
    r"account holder|holder|spoke with|speak with|talked to|met with|meeting with|worked with|work with|"
    r"belongs to|assigned to|signed by|written by|dear|hi|hello|thanks|thank you|cc|and|with|for|"
    r"user|manager|director|agent|driver|author|reporter|sender|recipient|attn)\b[:,]?)[ ]*$"
)
# Cues strong enough that the single Titlecase word after them is a name (Hi Tormod, said Ilse).
_STRONG_CUE = re.compile(
    r"(?i:\b(?:my name is|name is|call me|i'm|i am|hi|hello|hey|dear|thanks|thank you|said|asked|told|cc|"
    r"spoke with|talked to|met with|belongs to|signed by|written by|directed by|starring|people call me|"
    r"(?:first|last|middle|maiden|family|given)[ ]name(?:[ ]is)?|surname(?:[ ]is)?|named(?:[ ]him|[ ]her)?|"
    r"my[ ](?:kid|son|daughter|wife|husband|mother|father|mom|dad|brother|sister|friend|boss|partner))[ ,:?]*)$"
)
# First names that are also everyday English words or month names: they need more evidence.
_COMMON = frozenset(
    """may june april august will mark bill art rose grace hope joy faith summer autumn dawn guy max page chance
    major king prince angel sunny rich ray pat sue don van les carol lane golden crystal ruby pearl amber jade ivy
    holly iris lily daisy violet olive sky star love precious lee long young see worth else ford hall mercy
    delta echo sierra victor oscar tango charlie india lima juliet kilo romeo queen joe bud rusty red harmony
    miles dusty sandy earnest ernest frank stephan lou al ed so in is on it an my me we us do go no or to
    china georgia virginia carolina florida dakota austin jordan paris sydney london madison houston dallas
    denver phoenix camden chelsea kent ruth heath wade cliff dale glen glenn gay christian patience constance
    early else eve noel easter general judge marshall mason porter cooper hunter taylor parker baker carter
    price bishop ward stone wood brook brooks field hill golden jewel gene tommie""".split()
)
# Second words that make a Titlecase pair a place, organisation or heading rather than a person.
_NOT_LAST = frozenset(
    """street st avenue ave road rd lane drive court place square park way boulevard inc ltd llc corp co
    company group bank university college school hospital institute foundation project team department
    service services street club church centre center city county state river lake mountain island valley
    airport station hotel office house building tower bridge news times post journal week month year
    technologies technology capital associates investments solutions systems labs partners holdings consulting
    media magazine weekly daily review press records studios pictures entertainment games software security
    insurance financial health healthcare pharmaceuticals energy motors airlines logistics royal pleasures
    the and or of for to in on at by with from""".split()
)
# English place-name endings (Oakshire, Lindberg, Eastmouth): a lone word like this is a town.
_PLACE_END = re.compile(
    r"(?:shire|berg|burg|bury|borough|ton|ville|furt|mouth|chester|field|ford|port|land|view|haven|side|stad|"
    r"heim|hausen|dorf|ington|stead|wick|worth|minster)$"
)
# A line that reads as source code: a single unknown Titlecase word there is an identifier.
_CODE_LINE = re.compile(r"\w\(|[{}=]|;\s*$|^\s{4,}|^\s*(?:#|//|\*|>>>|from |import |def |class |return |raise )")
# Name morphology: Latin-script diacritics, or surname endings of Slavic, Nordic, Baltic, Greek,
# Romanian, Spanish and Portuguese naming (-ović, -ova, -sson, -dóttir, -escu, -opoulos, -ez...).
_NAME_SHAPE = re.compile(
    r"[À-ÖØ-öø-ÿĀ-Ž]|(?:ović|ovič|evič|ević|ić|ov|ova|ev|eva|ina|in|sky|ski|ska|czyk|wicz|sson|sen|dóttir|dottir|"
    r"escu|opoulos|ou|akis|idis|ez|es|eira|inho|aka|uchi|moto|yama|mura|ura|ko|enko|uk|yk)$"
)
# The strongest of those signals, enough on their own for a Titlecase word that no list knows.
_STRONG_SHAPE = re.compile(
    r"[À-ÖØ-öø-ÿĀ-Ž]|(?:ović|ovič|evič|ević|ić|ov|ova|ev|eva|sky|ski|ska|czyk|wicz|vich|sson|dóttir|dottir|"
    r"escu|opoulos|akis|enko|nen|shvili|yan)$"
)
_PLACE_BEFORE = re.compile(r"\b(?:Lake|North|South|East|West|Port|New|Mount|Fort|Saint|St\.?)[ ]$")
_PLACE_PREP = re.compile(r"\b(?:in|at|to|from|near|of|via|into|visit|visiting|around)[ ]$", re.IGNORECASE)
# What people do, right after a sentence-initial word spaCy called a person ("Tormod spent a year").
_ACTS = re.compile(
    r"[ ](?:is|was|has|had|lives|lived|spent|began|shouted|said|says|told|asked|works|worked|wants|wanted|"
    r"likes|loves|went|moved|wrote|writes|called|met|left|joined|flew|arrived|married|died|born)\b"
)
# A name addressed at the start of a sentence: "Tormod, can you send the file?"
_VOCATIVE = re.compile(r", (?:can|could|would|will|please|do|did|are|have|I|you|thanks|thank)\b")
_PERSON_LABELS = {"PERSON"}
_MAYBE_LABELS = {"ORG", "GPE", "NORP", "FAC", "PRODUCT", "WORK_OF_ART", "LOC"}


@lru_cache(maxsize=1)
def gazetteer() -> tuple[frozenset[str], frozenset[str]]:
    """Return (first names, common surnames), lowercase, from the census lists in `names`."""

    def read(name: str, limit: int) -> frozenset[str]:
        text = resources.files("names").joinpath(name).read_text(encoding="ascii")
        return frozenset(line.split(" ", 1)[0].lower() for line in text.splitlines()[:limit] if line)

    first = read("dist.male.first", 1300) | read("dist.female.first", 4300)
    last = read("dist.all.last", 10000)
    return first - _COMMON, last - _COMMON


def _cue_before(text: str, start: int) -> bool:
    head = text[max(0, start - 40) : start]
    return bool(_TITLE.search(head) or _CUE.search(head))


def _tokens(span: str) -> list[str]:
    return [t for t in re.split(r"[ \-]", span) if t]


def plausible_name(span: str) -> bool:
    """Could this span be a person's name: Titlecase words, initials and particles only?"""
    toks = span.split()
    if not toks or len(toks) > 5 or len(span) > 60:
        return False
    for t in toks:
        if re.fullmatch(_PARTICLE, t) or re.fullmatch(_INITIAL, t):
            continue
        if not re.fullmatch(rf"{_WORD}(?:-{_WORD})?", t) or t.isupper():
            return False
    if toks[0].lower() in _PLACE_FIRST:
        return False
    return not re.fullmatch(_PARTICLE, toks[0]) and toks[-1].lower() not in _NOT_LAST


def gazetteer_persons(text: str) -> list[Finding]:
    """Name runs opened by a known first name, or any name run after a title or cue word."""
    first, last = gazetteer()
    out: list[Finding] = []
    taken: list[tuple[int, int]] = []
    pos = 0
    while (m := NAME_RUN.search(text, pos)) is not None:
        span = m.group("name")
        toks = _tokens(span)
        s, e = m.span("name")
        pos = e
        if plausible_name(span) and _is_person(toks, text, s, first, last):
            s, e = _widen(text, s, e)
            out.append(Finding("person", "PERSON", "person-gazetteer", s, e, 0.65))
            taken.append((s, e))
        elif len(span.split()) > 2:
            pos = s + span.index(" ") + 1  # "Email Ada Lowe": try again from the second word
    for m in SINGLE.finditer(text):
        s, e = m.span("name")
        if taken and inside(taken, s, s + 1):
            continue
        word = m.group("name").lower()
        head = text[max(0, s - 24) : s]
        sentence_start = s == 0 or bool(re.search(r"(?:[.!?:\n]|^)\s*$", head[-3:]))
        if head.endswith(" ") and _PLACE_BEFORE.search(head):
            continue  # Lake Ida, South Tormod: a place
        if _TITLE.search(head[-16:]) or _STRONG_CUE.search(head):
            s, e = _widen(text, s, e)
            out.append(Finding("person", "PERSON", "person-gazetteer", s, e, 0.55))
        elif sentence_start and _VOCATIVE.match(text, e) and not code_line(text, s, e):
            out.append(Finding("person", "PERSON", "person-vocative", s, e, 0.5))
        elif word in first and (not sentence_start or text[e : e + 1] in (":", ",", " ")) and not code_line(text, s, e):
            out.append(Finding("person", "PERSON", "person-gazetteer", s, e, 0.5))
        elif (
            not sentence_start
            and _STRONG_SHAPE.search(word)
            and re.search(r"[a-z,][ ]$", head)
            and not _PLACE_PREP.search(head)
            and not code_line(text, s, e)
        ):
            out.append(Finding("person", "PERSON", "person-shape", s, e, 0.5))
    for m in LOWER_PAIR.finditer(text):
        s, e = m.span("name")
        toks = m.group("name").split()
        if toks[0] in first and toks[-1] in last and toks[-1] not in first and not code_line(text, s, e):
            if not (taken and inside(taken, s, s + 1)):
                out.append(Finding("person", "PERSON", "person-gazetteer", s, e, 0.5))
    return out


def code_line(text: str, s: int, e: int) -> bool:
    """Does the line holding text[s:e] read as source code?

    Remembered per line of the last text asked about: the name passes ask once per candidate word,
    and a prompt pasted as one long line would otherwise be searched once per word (quadratic).
    """
    global _CODE_MEMO
    a = text.rfind("\n", 0, s) + 1
    nl = text.find("\n", e)
    b = nl if nl >= 0 else len(text)
    memo = _CODE_MEMO
    if memo[0] is not text:
        memo = _CODE_MEMO = (text, {})
    hit = memo[1].get((a, b))
    if hit is None:
        hit = memo[1][(a, b)] = bool(_CODE_LINE.search(text[a:b]))
    return hit


_CODE_MEMO: tuple[str | None, dict[tuple[int, int], bool]] = (None, {})


def label_names(text: str, findings: list[Finding]) -> list[Finding]:
    """Name lines heading a mailing label: a name run alone on one of the 3 lines above an address."""
    out: list[Finding] = []
    for f in findings:
        if f.category != "address":
            continue
        top = f.start
        for _ in range(3):
            end = text.rfind("\n", 0, top)
            if end < 0:
                break
            start = text.rfind("\n", 0, end) + 1
            line = text[start:end]
            bare = line.strip(" \t>?*-")
            if bare and plausible_name(bare) and 2 <= len(bare.split()) <= 4:
                off = start + line.index(bare)
                out.append(Finding("person", "PERSON", "person-label", off, off + len(bare), 0.6))
            top = start
    return out


def _is_person(toks: list[str], text: str, s: int, first: frozenset[str], last: frozenset[str]) -> bool:
    opener = toks[0].lower()
    if opener in first or _cue_before(text, s):
        return True
    # Zsófia Halmai, Oleg P Mironov: name morphology, not after "in"/"from" (places), not in code.
    if any(_STRONG_SHAPE.search(t) for t in toks) and not _PLACE_PREP.search(text[max(0, s - 8) : s]):
        return not code_line(text, s, s + 1)
    # A first name that is also a word (Summer, Frank, Christian) needs an initial or a known surname.
    if opener in _COMMON and len(toks) >= 2:
        return bool(re.fullmatch(_INITIAL, text[s:].split()[1])) or toks[-1].lower() in last
    return False


def _widen(text: str, s: int, e: int) -> tuple[int, int]:
    """Take in a title before and a degree suffix after the name (Dipl.-Ing. X, X MBA.)."""
    t = _TITLE_BEFORE.search(text[max(0, s - 30) : s])
    if t:
        s -= len(t.group())
    m = _SUFFIX.match(text[e : e + 12])
    if m:
        e += m.end()
    return s, e


def relabel(text: str, label: str, start: int, end: int) -> tuple[int, int] | None:
    """Trim a spaCy entity to a name and decide whether it is a person; None when it is not."""
    span = text[start:end]
    lead = len(span) - len(span.lstrip(" '\"“‘(-"))
    span = span.strip(" '\"“”‘’()-.,:;")
    if span.endswith("'s") or span.endswith("’s"):
        span = span[:-2]
    # A unit word after a name starts the address that follows it ("Mrs. Ann Lowe Apt. 6 ...").
    span = re.sub(r"(?:[ ]+(?:Apt|Apartment|Suite|Ste|Unit|Flat|Room))+\.?$", "", span)
    start += lead
    end = start + len(span)
    if not span or not plausible_name(span):
        return None
    first, last = gazetteer()
    toks = _tokens(span)
    if label in _PERSON_LABELS:
        known = toks[0].lower() in first or toks[-1].lower() in last
        # A lone unknown word is a name only mid-sentence and not as code (Parser(), tree.walk).
        starts = start == 0 or bool(re.search(r"(?:[.!?:\n'\"`>#]|^)\s*$", text[max(0, start - 3) : start]))
        code = code_line(text, start, end)
        if code and (len(toks) == 1 or not known):
            return None
        if len(toks) == 1 and _PLACE_END.search(toks[0].lower()):
            return None
        if len(toks) == 1 and not known and starts and not _NAME_SHAPE.search(span) and not _ACTS.match(text, end):
            return None
        return start, end
    if label not in _MAYBE_LABELS or len(toks) < 2 or any(t.lower() in _NOT_LAST for t in toks):
        return None
    if toks[0].lower() in first or _cue_before(text, start):
        return start, end
    # spaCy's small model calls many foreign names ORG; take them back when the words read as a name.
    if label == "ORG" and len(toks) <= 3 and (toks[-1].lower() in last or any(_NAME_SHAPE.search(t) for t in toks)):
        return start, end
    return None


# Cues after which a lower-case word is a name in chat text ("my name is tove", "ms. odalys").
_LOWER_CUE = re.compile(
    r"(?i:\b(?:my name is|my name's|(?:first|last|middle|maiden|family|given)[ ]name is|surname is|"
    r"(?:people|everyone|everybody|they|friends)[ ]calls?[ ]me|(?:mr|mrs|ms|dr)\.))[ ]+"
    r"(?P<w>[a-zß-öø-ÿā-ž][a-zß-öø-ÿā-ž'’\-]*[a-zß-öø-ÿā-ž])(?:[ ](?P<w2>[a-zß-öø-ÿā-ž][a-zß-öø-ÿā-ž'’\-]*[a-zß-öø-ÿā-ž]))?"
    r"(?![\w@(\-])"
)
_CUE_WORDS = ("name", "call", "mr.", "mrs.", "ms.", "dr.")  # each _LOWER_CUE match holds one (lower-cased)
# Lower-case words that follow "my name is" without being a name.
_NOT_NAME = frozenset(
    """a an the not no on in at of and or but is was so very just also still really too here there this that
    what who why how when where which as for from with without your my his her their our its it me you him
    them we they us called actually definitely literally currently listed written spelled""".split()
)
# A list of single words joined by commas and a last "and" (Orvik, Palmer and Dunne).
_LIST = re.compile(
    rf"(?<![\w@.\-/])(?:{_WORD}|[a-z]{{3,}})(?:,[ ](?:{_WORD}|[a-z]{{3,}})){{0,8}},?[ ]and[ ](?:{_WORD}|[a-z]{{3,}})(?![\w@(\-])"
)

# Words before a list that make it places, firms or terms rather than people.
_LIST_NOT_AFTER = re.compile(
    r"(?:\b(?:in|at|to|from|near|of|via|into|visit|visiting|around|like|as|the|The)|[A-Z][\w'’\-]*)[ ]$"
)
_ORG_WORD = frozenset("corporation corp sons brothers partners associates".split())
_LINE_HEAD = re.compile(r"[ \t>*\-]*")
_CLAUSE_END = re.compile(r"[ ]*(?:[.,!?;:\n]|$)")
_MORE_NAME = re.compile(r"[ ]+[A-Z]")


def more_names(text: str, findings: list[Finding]) -> list[Finding]:
    """Names the first pass leaves out, from the names it found and from strong lower-case cues.

    A name found once is the same name where it occurs again in the text; the other members of a
    list of single words ("X, Y and Z") that holds a found name are names too; and after "my name
    is", "everyone calls me" or a title, a lower-case word is a name in chat text.
    """
    first, last = gazetteer()
    persons = [(f.start, f.end) for f in findings if f.category == "person"]
    taken = bytearray(len(text))  # 1 where a finding already lies
    for f in findings:
        taken[f.start : f.end] = b"\x01" * (f.end - f.start)
    out: list[Finding] = []

    code: dict[int, bool] = {}  # line start -> does the line read as code

    def add(s: int, e: int, rule: str) -> None:
        if any(taken[s:e]):
            return
        line = text.rfind("\n", 0, s) + 1
        if line not in code:
            code[line] = code_line(text, s, e)
        if not code[line]:
            out.append(Finding("person", "PERSON", rule, s, e, 0.5))
            taken[s:e] = b"\x01" * (e - s)

    low = text.lower()  # every cue holds one of these: skip the case-blind regex pass when none is there
    cued = any(c in low for c in _CUE_WORDS)
    for m in _LOWER_CUE.finditer(text) if cued else ():
        s, e = m.span("w")
        if m.group("w") in _NOT_NAME or m.group("w") in _COMMON:
            continue
        w2 = m.group("w2")
        if w2 and w2 not in _NOT_NAME and (w2 in last or _NAME_SHAPE.search(w2) or _CLAUSE_END.match(text, m.end())):
            e = m.end()
        add(s, e, "person-cue")
    if not persons:
        return out
    # Whole-word repeats of a found name's Titlecase words.
    seen: set[str] = set()
    for s, e in persons:
        for tok in re.findall(_WORD, text[s:e]):
            low = tok.lower()
            if low in seen or low in _COMMON or low in _NOT_LAST or len(tok) < 3 or _TITLE.search(tok + " "):
                continue
            seen.add(low)
            # The word first, its left edge checked after: a literal-led pattern is searched as a string.
            esc = re.escape(tok)
            for r in re.finditer(rf"{esc}(?<![\w@.\-/]{esc})(?![\w@(\-])", text):
                add(r.start(), r.end(), "person-repeat")
    for m in _LIST.finditer(text) if " and " in text else ():
        items = [(i.start(), i.end()) for i in re.finditer(r"[^\s,]+", m.group()) if i.group() != "and"]
        items = [(m.start() + a, m.start() + b) for a, b in items]
        if not any(any(a < pe and ps < b for ps, pe in persons) for a, b in items):
            continue
        words = [text[a:b] for a, b in items]
        if any(
            w.lower() in _NOT_LAST or w.lower() in _ORG_WORD or w.lower() in _NOT_NAME or w.isupper() for w in words
        ):
            continue
        if len({w[0].islower() for w in words}) > 1 or _LIST_NOT_AFTER.search(text[max(0, m.start() - 24) : m.start()]):
            continue  # mixed case, or a firm, place or term: "from Ames, Brook and Cole"
        line = text.rfind("\n", 0, m.start()) + 1
        if _LINE_HEAD.match(text, line, m.start()).end() == m.start():
            continue  # a line opened by "X, Y and Z" is a firm name more often than three people
        if _MORE_NAME.match(text, m.end()):
            continue  # the list runs into a longer name: "Hale, Moss and Finch Quartet"
        for a, b in items:
            add(a, b, "person-list")
    return out
