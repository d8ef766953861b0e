"""Names of the synthetic Longgang's sites.

Real names where the seed article gives them (市实验中学, 中冶葫芦岛有色金属集团有限公司,
京哈高速葫芦岛出口, the communities of ``geodata``); every other name is made up from
common Chinese place stems, surnames and trades. All positions are synthetic.
"""

from __future__ import annotations

import numpy as np

from geodata._names import COMMUNITY_STEMS

__all__ = ["SiteNamer", "ENTERPRISE", "FLAGSHIP_SCHOOL", "CASE_SITE"]

ENTERPRISE = "中冶葫芦岛有色金属集团有限公司"
FLAGSHIP_SCHOOL = "市实验中学"
CASE_SITE = "龙港区方舱医院"

_STEMS = tuple(zh for zh, _en in COMMUNITY_STEMS) + (
    "龙港", "葫芦", "连港", "海天", "春晖", "锦绣", "华兴", "东风", "百盛", "宏达", "福源", "祥和",
)
_SURNAMES = "王李张刘陈杨赵黄周吴孙马高郑林何郭罗梁宋谢唐韩冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文"
_DISHES = ("饺子馆", "面馆", "烧烤", "海鲜酒家", "家常菜馆", "包子铺", "火锅店", "砂锅居", "快餐店", "烤肉店", "酒楼", "麻辣烫")
_INDUSTRIES = ("机械制造", "建材", "物流", "船舶配套", "化工", "食品", "电力设备", "纺织", "印刷", "建筑工程",
               "水产", "钢结构", "包装", "汽车维修", "电子")
_OFFICES = ("龙港区人民法院", "龙港区税务局", "龙港区市场监督管理局", "龙港区自然资源分局", "龙港区人民医院",
            "龙港区供电分公司", "龙港区自来水公司", "龙港区邮政分局", "葫芦岛港集团", "龙港区城市管理局")
_PHARMACY_BRANDS = ("仁和堂", "济民", "康泰", "百姓缘", "益寿堂", "同康", "惠民", "天济")
_SUPERMARKET_BRANDS = ("家家乐", "万家福", "兴隆", "惠民", "百佳汇", "好又多", "新玛特", "鑫源")
_CN_NUM = "一二三四五六七八九十"


def _cn(k: int) -> str:
    return _CN_NUM[k - 1] if 1 <= k <= 10 else str(k)


class SiteNamer:
    """Draws plausible, unique names for sites (deterministic for its generator)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.used: dict[str, int] = {}

    def _pick(self, options: tuple[str, ...] | str) -> str:
        return options[int(self.rng.integers(len(options)))]

    def _unique(self, name: str, branch: str = "店") -> str:
        k = self.used.get(name, 0) + 1
        self.used[name] = k
        return name if k == 1 else f"{name}({_cn(k)}{branch})"

    def name(self, sub: str, community_zh: str, index: int) -> str:
        """A name for the ``index``-th site (from 1) of type ``sub`` in a community."""
        stem = community_zh.removesuffix("社区")
        r = self._pick
        if sub == "market":
            return self._unique(f"{stem}{r(('农贸市场', '早市', '菜市场'))}", "号")
        if sub == "supermarket":
            base = f"{r(_SUPERMARKET_BRANDS)}超市({stem}店)" if self.rng.random() < 0.5 else f"{stem}{r(('超市', '便民超市', '生鲜超市'))}"
            return self._unique(base)
        if sub == "restaurant":
            base = f"{r(_SURNAMES)}记{r(_DISHES)}" if self.rng.random() < 0.6 else f"{r(_STEMS)}{r(_DISHES)}"
            return self._unique(base)
        if sub == "bathhouse":
            return self._unique(f"{r(_STEMS)}{r(('洗浴中心', '浴池', '汗蒸馆', '洗浴会馆'))}")
        if sub == "workplace":
            if self.rng.random() < 0.2:
                return self._unique(r(_OFFICES), "处")
            return self._unique(f"葫芦岛{r(_STEMS)}{r(_INDUSTRIES)}有限公司", "厂")
        if sub == "enterprise":
            return ENTERPRISE
        if sub == "primary":
            return self._unique(f"龙港区{stem}小学", "校区")
        if sub == "middle":
            return FLAGSHIP_SCHOOL if index == 1 else self._unique(f"龙港区第{_cn(index)}初级中学", "校区")
        if sub == "high":
            return self._unique(f"龙港区第{_cn(index)}高级中学", "校区")
        if sub == "vocational":
            return "龙港区职业教育中心" if index == 1 else self._unique(f"葫芦岛{stem}中等职业技术学校", "校区")
        if sub == "clinic":
            options = (f"{stem}社区卫生服务中心", f"龙港区{stem}医院", f"{r(_SURNAMES)}氏诊所", f"{stem}门诊部")
            return self._unique(r(options), "分院")
        if sub == "pharmacy":
            base = f"{r(_PHARMACY_BRANDS)}大药房({stem}店)" if self.rng.random() < 0.6 else f"{stem}大药房"
            return self._unique(base)
        if sub == "nat_site":
            return f"{community_zh}核酸采样点{index}"
        if sub == "community_office":
            return f"{community_zh}居委会"
        if sub == "hotel":
            return self._unique(f"{r(_STEMS)}{r(('宾馆', '酒店', '快捷酒店', '商务酒店'))}集中隔离点", "点")
        if sub == "case_site":
            return CASE_SITE
        msg = f"no names for site type {sub!r}"
        raise ValueError(msg)
