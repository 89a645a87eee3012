"""Short texts the tests make videos from. (Import them from here, never from conftest:
importing ``tests.conftest`` as a module runs it a second time, with a new data root.)"""

ZH_CONTENT = (
    "台北一零一位於台北市信義區，是台灣最有名的地標之一。它在二零零四年完工，高度大約五百零八公尺。\n\n"
    "大樓內部懸掛著一顆巨大的鋼球，叫做調諧質量阻尼器。強風或地震時，它會朝相反方向擺動，讓大樓更穩定。\n\n"
    "每年跨年夜，台北一零一都會舉辦盛大的煙火秀，吸引數十萬人到信義區一起迎接新年。"
)

EN_CONTENT = (
    "Honeybees live in colonies built around a single queen. She lays up to two thousand eggs a day.\n\n"
    "A forager that finds flowers tells her sisters with a waggle dance. The angle points the way.\n\n"
    "Honey is nectar that bees have concentrated by fanning their wings until it is thick."
)
