"""Build ``charges.json``: every charge name (罪名) the criminal law's charge lists define → the 刑法 articles that
define it, for citation following (domainrag/cited.py): an interpretation that says "以盗窃罪定罪处罚", or a
question about 盗窃罪, points at 刑法 第二百六十四条.

Read from the charge lists in the LawRefBook/Laws data set (``law/laws/司法解释``): 最高人民检察院关于适用刑法分则
规定的犯罪的罪名的意见 (1997; "187．盗窃罪（第264条）") and the eight 确定罪名的补充规定 (2002–2024; table rows
"| 第一百三十三条之一 （…） |危险驾驶罪 |", renames "将…第一百六十九条…的罪名由“A”修改为“B”"). A charge that was
renamed or abolished keeps its entry: older interpretations still use the old name.

    python domains/law/build_charges.py ../shared/data/law/laws/司法解释 > domains/law/charges.json
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from domainrag.lawref import article_key

_ARTICLE = r"第[零〇一二两三四五六七八九十百千\d]+条(?:之[一二三四五六七八九十]+)?"
LIST_ENTRY = re.compile(r"(?:\d+．|^)([^\s．（）“”]{2,40}?罪)（((?:" + _ARTICLE + r"[^、）]*[、，]?)+)）", re.M)
TABLE_ROW = re.compile(r"^\|\s*(" + _ARTICLE + r")[^|]*\|\s*([^|（]+?罪)\s*(?:（取消(?:刑法原" + _ARTICLE
                       + r"[^|（]*?)?([^|]+?罪)罪名）)?\s*\|", re.M)
RENAME = re.compile(r"(" + _ARTICLE + r")[^“]{0,40}?的罪名由“([^”]+罪)”修改为“([^”]+罪)”")


def charge_table(folder: Path) -> dict[str, list[str]]:
    """Charge name → canonical article keys ("264", "133-1"), in the order the lists give them."""
    charges: dict[str, list[str]] = {}

    def add(name: str, labels: list[str]) -> None:
        name = re.sub(r"\s+", "", name)
        for label in labels:
            key = article_key(label)
            if key and key not in charges.setdefault(name, []):
                charges[name].append(key)

    for path in sorted(folder.glob("*罪名*.md")):
        text = path.read_text(encoding="utf-8")
        for match in LIST_ENTRY.finditer(text):  # numbered entries; one list starts a line unnumbered
            add(match.group(1), re.findall(_ARTICLE, match.group(2)))
        for match in TABLE_ROW.finditer(text):
            add(match.group(2), [match.group(1)])
            if match.group(3):
                add(match.group(3), [match.group(1)])
        for match in RENAME.finditer(text):
            add(match.group(2), [match.group(1)])
            add(match.group(3), [match.group(1)])
    return dict(sorted(charges.items()))


def main() -> int:
    if len(sys.argv) != 2 or not Path(sys.argv[1]).is_dir():
        print(__doc__, file=sys.stderr)
        return 2
    charges = charge_table(Path(sys.argv[1]))
    if not charges:
        print(f"error: no charge lists (*罪名*.md) in {sys.argv[1]}", file=sys.stderr)
        return 1
    print(json.dumps({"law": "刑法", "source": "LawRefBook/Laws law/laws/司法解释: 罪名 lists 1997–2024 "
                      "(domains/law/build_charges.py)", "charges": charges}, ensure_ascii=False, indent=1))
    print(f"{len(charges)} charges", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
