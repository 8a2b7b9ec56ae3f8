"""Chinese person names: jieba `nr` tags, filtered, plus surname-led names after cue words.

jieba tags most names `nr` but also tags company brands (华拓软件) and odd words; it also splits
some names (周 / 晓晓). A name is kept when it starts with a common surname (the 百家姓 list as
used in household registration statistics) and is not followed by an organisation word; a
surname + one or two characters right after a cue (给, 员工, 客户, 姓名: ...) is a name too.
"""

from __future__ import annotations

import logging
import re

from guard.core import Finding
from guard.detect.intervals import inside

CJK = re.compile(r"[\u4e00-\u9fff]")
# Common single-character surnames (top ~130 by population, Ministry of Public Security 2020 list).
SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
    "姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康"
    "施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成"
    "苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫"
    "费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝樊仲"
)
COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐", "长孙", "宇文")
# Words after a "name" that make it a brand or organisation (华拓软件有限公司).
_ORG_AFTER = re.compile(
    r"^(?:科技|公司|传媒|集团|网络|信息|有限|银行|大学|学院|医院|股份|控股|实业|工作室|文化|电子|软件|酒店|餐厅|中心|基金|证券|保险|路|街|区|县|市|省)"
)
# Cue words that introduce a person (给X发, 员工X的, 客户X, 姓名：X, 联系人X).
_CUE_NAME = re.compile(
    r"(?:给|员工|客户|用户|联系人|收件人|收货人|姓名[:：]?|同事|经理|主管|患者|病人|学生|老师|先生|女士|致|和|与|及|、|：|:)"
    r"(?P<name>(?:" + "|".join(COMPOUND_SURNAMES) + r"|[" + "".join(sorted(SURNAMES)) + r"])[\u4e00-\u9fff]{1,2}?)"
    r"(?=发|的|，|,|。|、|先生|女士|同学|老师|经理|说|在|是|：|:|\s|电话|手机|邮箱|身份证|和|与|$)"
)


class JiebaPersons:
    """Chinese person names from jieba `nr` tags plus cue-led surname matches, on texts with CJK."""

    name = "jieba-nr"

    def __init__(self) -> None:
        self._pseg = None

    def _load(self):  # noqa: ANN202 - jieba.posseg module
        if self._pseg is None:
            import jieba
            import jieba.posseg

            jieba.setLogLevel(logging.WARNING)
            self._pseg = jieba.posseg
        return self._pseg

    def scan_many(self, texts: list[str]) -> list[list[Finding]]:
        """Return the Chinese person names in each text ([] for texts without CJK)."""
        return [self.scan(t) if CJK.search(t) else [] for t in texts]

    def scan(self, text: str) -> list[Finding]:
        """Return the Chinese person names in one text."""
        spans: set[tuple[int, int]] = set()
        for start, word, flag in self._tagged(text):
            pos = start + len(word)
            if flag != "nr" or not 2 <= len(word) <= 4 or not CJK.match(word):
                continue
            # jieba split the surname off (周 / 晓晓): take it back.
            if word[0] not in SURNAMES and start > 0 and text[start - 1] in SURNAMES and len(word) == 2:
                start -= 1
            if _is_name(text, start, pos):
                spans.add((start, pos))
        ordered = sorted(spans)
        for m in _CUE_NAME.finditer(text):
            s, e = m.span("name")
            if _is_name(text, s, e) and not inside(ordered, s, s + 1):
                spans.add((s, e))
        return [Finding("person", "PERSON", "zh-person", s, e, 0.6) for s, e in sorted(spans)]

    def _tagged(self, text: str) -> list[tuple[int, str, str]]:
        """(offset, word, flag) for the lines that hold CJK: jieba never sees English or code lines."""
        pseg = self._load()
        out: list[tuple[int, str, str]] = []
        lo = 0
        for line in text.split("\n"):
            hi = lo + len(line)
            pos, lo = lo, hi + 1
            if not CJK.search(line):
                continue
            for word, flag in pseg.cut(line):
                start = text.find(word, pos, hi)
                if start < 0:
                    continue
                pos = start + len(word)
                out.append((start, word, flag))
        return out


def _is_name(text: str, start: int, end: int) -> bool:
    word = text[start:end]
    if not (word[0] in SURNAMES or word[:2] in COMPOUND_SURNAMES) or len(word) < 2:
        return False
    return not _ORG_AFTER.match(text[end : end + 4])
