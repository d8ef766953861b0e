"""Names for the synthetic streets and communities of Longgang District.

Two streets and two communities are real names given by the seed article
(马仗房街道/铎小社区, 玉皇街道/书芳苑社区). Every other name is plausible, not verified,
and every outline is synthetic: the ``synthetic`` flag says so in the data.
"""

from __future__ import annotations

# (name_zh, name_en, source) ; source: "seed" = named in the seed article
STREETS: tuple[tuple[str, str, str], ...] = (
    ("马仗房街道", "Mazhangfang Street", "seed"),
    ("玉皇街道", "Yuhuang Street", "seed"),
    ("龙湾街道", "Longwan Street", "plausible"),
    ("连湾街道", "Lianwan Street", "plausible"),
    ("北港街道", "Beigang Street", "plausible"),
    ("双龙街道", "Shuanglong Street", "plausible"),
    ("东街街道", "Dongjie Street", "plausible"),
    ("望海街道", "Wanghai Street", "plausible"),
)

# community named by the seed, keyed by the street it belongs to
SEED_COMMUNITIES: dict[str, tuple[str, str]] = {
    "马仗房街道": ("铎小社区", "Duoxiao Community"),
    "玉皇街道": ("书芳苑社区", "Shufangyuan Community"),
}

COMMUNITY_STEMS: tuple[tuple[str, str], ...] = (
    ("海滨", "Haibin"), ("望海", "Wanghai"), ("兴港", "Xinggang"), ("金港", "Jingang"),
    ("滨海", "Binhai"), ("锦华", "Jinhua"), ("龙湖", "Longhu"), ("新华", "Xinhua"),
    ("春华", "Chunhua"), ("幸福", "Xingfu"), ("和平", "Heping"), ("东山", "Dongshan"),
    ("西山", "Xishan"), ("南山", "Nanshan"), ("北山", "Beishan"), ("文化", "Wenhua"),
    ("胜利", "Shengli"), ("光明", "Guangming"), ("友谊", "Youyi"), ("建设", "Jianshe"),
    ("渤海", "Bohai"), ("港湾", "Gangwan"), ("船厂", "Chuanchang"), ("锌厂", "Xinchang"),
    ("玉兰", "Yulan"), ("紫荆", "Zijing"), ("海韵", "Haiyun"), ("龙泉", "Longquan"),
    ("翠竹", "Cuizhu"), ("盛世", "Shengshi"), ("铁路", "Tielu"), ("站前", "Zhanqian"),
    ("梨园", "Liyuan"), ("枫林", "Fenglin"), ("松山", "Songshan"), ("阳光", "Yangguang"),
    ("绿地", "Lüdi"), ("碧海", "Bihai"), ("金星", "Jinxing"), ("银河", "Yinhe"),
    ("朝阳", "Chaoyang"), ("向阳", "Xiangyang"), ("红旗", "Hongqi"), ("解放", "Jiefang"),
    ("团结", "Tuanjie"), ("长江", "Changjiang"), ("黄河", "Huanghe"), ("泰山", "Taishan"),
    ("华山", "Huashan"), ("海星", "Haixing"), ("蓝湾", "Lanwan"), ("东湖", "Donghu"),
    ("西湖", "Xihu"), ("南湖", "Nanhu"), ("新村", "Xincun"), ("兴华", "Xinghua"),
    ("永安", "Yong'an"), ("永丰", "Yongfeng"), ("福安", "Fu'an"), ("安居", "Anju"),
    ("康乐", "Kangle"), ("宁海", "Ninghai"), ("靖海", "Jinghai"), ("金海", "Jinhai"),
    ("兴海", "Xinghai"), ("曙光", "Shuguang"), ("北港", "Beigang"), ("连湾", "Lianwan"),
)
