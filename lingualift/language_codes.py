"""Language codes each MT family understands, as published with the models.

Data only: `lingualift.languages` builds its lookups from these lists. Sources: the
tokenizer code lists shipped in transformers (NLLB-200, M2M100, mBART-50), the
SeamlessM4T v2 language table (text targets), the MADLAD-400 model card, and the
Helsinki-NLP OPUS-MT model names.
"""

# NLLB-200 / FLORES-200: ISO 639-3 + ISO 15924 script (202 codes).
NLLB = """
ace_Arab ace_Latn acm_Arab acq_Arab aeb_Arab afr_Latn ajp_Arab aka_Latn amh_Ethi apc_Arab
arb_Arab ars_Arab ary_Arab arz_Arab asm_Beng ast_Latn awa_Deva ayr_Latn azb_Arab azj_Latn
bak_Cyrl bam_Latn ban_Latn bel_Cyrl bem_Latn ben_Beng bho_Deva bjn_Arab bjn_Latn bod_Tibt
bos_Latn bug_Latn bul_Cyrl cat_Latn ceb_Latn ces_Latn cjk_Latn ckb_Arab crh_Latn cym_Latn
dan_Latn deu_Latn dik_Latn dyu_Latn dzo_Tibt ell_Grek eng_Latn epo_Latn est_Latn eus_Latn
ewe_Latn fao_Latn pes_Arab fij_Latn fin_Latn fon_Latn fra_Latn fur_Latn fuv_Latn gla_Latn
gle_Latn glg_Latn grn_Latn guj_Gujr hat_Latn hau_Latn heb_Hebr hin_Deva hne_Deva hrv_Latn
hun_Latn hye_Armn ibo_Latn ilo_Latn ind_Latn isl_Latn ita_Latn jav_Latn jpn_Jpan kab_Latn
kac_Latn kam_Latn kan_Knda kas_Arab kas_Deva kat_Geor knc_Arab knc_Latn kaz_Cyrl kbp_Latn
kea_Latn khm_Khmr kik_Latn kin_Latn kir_Cyrl kmb_Latn kon_Latn kor_Hang kmr_Latn lao_Laoo
lvs_Latn lij_Latn lim_Latn lin_Latn lit_Latn lmo_Latn ltg_Latn ltz_Latn lua_Latn lug_Latn
luo_Latn lus_Latn mag_Deva mai_Deva mal_Mlym mar_Deva min_Latn mkd_Cyrl plt_Latn mlt_Latn
mni_Beng khk_Cyrl mos_Latn mri_Latn zsm_Latn mya_Mymr nld_Latn nno_Latn nob_Latn npi_Deva
nso_Latn nus_Latn nya_Latn oci_Latn gaz_Latn ory_Orya pag_Latn pan_Guru pap_Latn pol_Latn
por_Latn prs_Arab pbt_Arab quy_Latn ron_Latn run_Latn rus_Cyrl sag_Latn san_Deva sat_Beng
scn_Latn shn_Mymr sin_Sinh slk_Latn slv_Latn smo_Latn sna_Latn snd_Arab som_Latn sot_Latn
spa_Latn als_Latn srd_Latn srp_Cyrl ssw_Latn sun_Latn swe_Latn swh_Latn szl_Latn tam_Taml
tat_Cyrl tel_Telu tgk_Cyrl tgl_Latn tha_Thai tir_Ethi taq_Latn taq_Tfng tpi_Latn tsn_Latn
tso_Latn tuk_Latn tum_Latn tur_Latn twi_Latn tzm_Tfng uig_Arab ukr_Cyrl umb_Latn urd_Arab
uzn_Latn vec_Latn vie_Latn war_Latn wol_Latn xho_Latn ydd_Hebr yor_Latn yue_Hant zho_Hans
zho_Hant zul_Latn
""".split()

# M2M100 (418M, 1.2B): mostly ISO 639-1 (100 codes); the token is `__xx__`.
M2M100 = """
af am ar ast az ba be bg bn br bs ca ceb cs cy da de el en es et fa ff fi fr fy ga gd gl gu ha
he hi hr ht hu hy id ig ilo is it ja jv ka kk km kn ko lb lg ln lo lt lv mg mk ml mn mr ms my ne
nl no ns oc or pa pl ps pt ro ru sd si sk sl so sq sr ss su sv sw ta th tl tn tr uk ur uz vi wo
xh yi yo zh zu
""".split()

# mBART-50 many-to-many: ll_RR codes (52).
MBART50 = """
ar_AR cs_CZ de_DE en_XX es_XX et_EE fi_FI fr_XX gu_IN hi_IN it_IT ja_XX kk_KZ ko_KR lt_LT lv_LV
my_MM ne_NP nl_XX ro_RO ru_RU si_LK tr_TR vi_VN zh_CN af_ZA az_AZ bn_IN fa_IR he_IL hr_HR id_ID
ka_GE km_KH mk_MK ml_IN mn_MN mr_IN pl_PL ps_AF pt_XX sv_SE sw_KE ta_IN te_IN th_TH tl_XX uk_UA
ur_PK xh_ZA gl_ES sl_SI
""".split()

# SeamlessM4T v2 (large): languages supported as text targets (and text sources), ISO 639-3.
SEAMLESS_M4T_V2 = """
afr amh arb ary arz asm azj bel ben bos bul cat ceb ces ckb cmn cmn_Hant cym dan deu ell eng est
eus fin fra fuv gaz gle glg guj heb hin hrv hun hye ibo ind isl ita jav jpn kan kat kaz khk khm kir
kor lao lit lug luo lvs mai mal mar mkd mlt mni mya nld nno nob npi nya ory pan pbt pes pol por ron
rus slk slv sna snd som spa srp swe swh tam tel tgk tgl tha tur ukr urd uzn vie yor yue zsm zul
""".split()

# MADLAD-400 MT (3B/7B/10B): the model card's language list; the token is `<2xx>`.
MADLAD400 = """
en ru es fr de it pt pl nl vi tr sv id ro cs zh hu ja th fi fa uk da el no bg sk ko ar lt ca sl he
et lv hi sq ms az sr ta hr kk is ml mr te af gl fil be mk eu bn ka mn bs uz ur sw yue ne kn kaa gu
si cy eo la hy ky tg ga mt my km tt so ku ps pa rw lo ha dv fy lb ckb mg gd am ug ht grc hmn sd jv
mi tk ceb yi ba fo or xh su kl ny sm sn co zu ig yo pap st haw as oc cv lus tet gsw sah br rm sa
bo om se ce cnh ilo hil udm os lg ti vec ts tyv kbd ee iba av kha to tn nso fj zza ak ada otq dz
bua cfm ln chm gn krc wa hif yua srn war rom bik pam sg lu ady kbp syr ltg myv iso kac bho ay kum
qu za pag ngu ve pck zap tyz hui bbc tzo tiv ksd gom min ang nhe bgp nzi nnb nv bci kv new mps alt
meu bew fon iu abt mgh mnw tvl dov tlh ho kw mrj meo crh mbt emp ace ium mam gym mai crs pon ubu
fip quc gv kj btx ape chk rcf shn tzh mdf ppk ss gag cab kri seh ibb tbz bru enq ach cuk kmb wo
kek qub tab bts kos rwo cak tuc bum cjk gil stq tsg quh mak arn ban jiv sja yap tcy toj twu xal
amu rmc hus nia kjh bm guh mas acf dtp ksw bzj din zne mad msi mag mkn kg lhu ch qvi mh djk sus
mfe srm dyu ctu gui pau inb bi mni guc jam wal jac bas gor skr nyu noa sda gub nog cni teo tdx sxn
rki nr frp alz taj lrc cce rn jvn hvn nij dwr izz msm bus ktu chr maz tzj suz knj bim gvl bqc tca
pis prk laj mel qxr niq ahk shp hne spp koi krj quf luz agr tsc mqy gof gbm miq dje awa bjj qvz
sjp tll raj kjg bgz quy cbk akb oj ify mey ks cac brx qup syl jax ff ber tks trp mrw adh smt srr
ffm qvc mtr ann aa noe nut gyn kwi xmm msb
""".split()

# Helsinki-NLP OPUS-MT (Marian) models `Helsinki-NLP/opus-mt-{src}-{tgt}`: source code, then the
# target codes it has a model for. Codes are OPUS's own: mostly ISO 639-1, else ISO 639-3
# (`jap` is Jaruára, not Japanese; `bzs` is Brazilian Sign Language), or a language group
# (`gmq`, `zlw`, `mul`, ...) whose models pick the target with a `>>xxx<<` token.
OPUS_MT_PAIRS = """
aav: en | aed: es | af: de en eo es fi fr nl ru sv | afa: afa en | alv: en | am: sv
ar: de el en eo es fr he it pl ru tr | art: en | ase: de en es fr sv | az: en es tr | bat: en
bcl: de en es fi fr sv | be: es | bem: en es fi fr sv | ber: en es fr
bg: de en eo es fi fr it ru sv tr uk | bi: en es fr sv | bn: en | bnt: en | bzs: en es fi fr sv
ca: de en es fr it nl pt uk | cau: en | ccs: en | ceb: en es fi fr sv | cel: en
chk: en es fr sv | cpf: en | cpp: cpp en | crs: de en es fi fr sv | cs: de en eo fi fr sv uk
csg: es | csn: es | cus: en | cy: en | da: de en eo es fi fr no ru
de: ZH af ar ase bcl bg bi bzs ca crs cs da de ee efi el en eo es et eu fi fj fr gaa gil guw ha he
hil ho hr ht hu ig ilo is iso it kg ln loz lt lua ms mt niu nl no nso ny pag pap pis pl pon tl uk vi
dra: en | ee: de en es fi fr sv | efi: de en fi fr sv | el: ar eo fi fr sv
en: aav af afa alv ar az bat bcl bem ber bg bi bnt bzs ca ceb cel chk cpf cpp crs cs cus cy da de
dra ee efi el eo es et eu euq fi fiu fj fr ga gaa gem gil gl gmq gmw grk guw gv ha he hi hil ho ht
hu hy id ig iir ilo inc ine is iso it itc jap kg kj kqn kwn kwy lg ln loz lu lua lue lun luo lus
map mfe mg mh mk mkh ml mos mr mt mul ng nic niu nl nso ny nyk om pag pap phi pis pon poz pqe pqw
rn rnd ro roa ru run rw sal sem sg sit sk sla sm sn sq ss st sv sw swc tdt ti tiv tl tll tn to
toi tpi trk ts tut tvl tw ty uk umb ur urj vi xh zh zle zls zlw
en_el_es_fi: en_el_es_fi
eo: af bg cs da de el en es fi fr he hu it nl pl pt ro ru sh sv
es: NORWAY aed af ar ase bcl ber bg bi bzs ca ceb crs cs csg csn da de ee efi el en eo es et eu fi
fj fr gaa gil gl guw ha he hil ho hr ht id ig ilo is iso it kg ln loz lt lua lus mfs mk mt niu nl
no nso ny pag pap pis pl pon prl rn ro ru rw sg sl sm sn srn st swc tl tll tn to tpi tvl tw ty tzo
uk ve vi war wls xh yo yua zai
et: de en es fi fr ru sv | eu: de en es ru | euq: en
fi: NORWAY ZH af bcl bem bg bzs ceb crs cs de ee efi el en eo es et fi fj fr fse gaa gil guw ha he
hil ho hr ht hu id ig ilo is iso it kg kqn lg ln lu lua lue lus lv mfe mg mh mk mos mt niu nl no
nso ny pag pap pis pon ro ru run rw sg sk sl sm sn sq srn st sv sw swc tiv tll tn to toi tpi tr ts
tvl tw ty uk ve war wls xh yap yo zne
fi_nb_no_nn_ru_sv_en: SAMI | fiu: en fiu | fj: en fr
fr: af ar ase bcl bem ber bg bi bzs ca ceb crs de ee efi el en eo es fj gaa gil guw ha he hil ho hr
ht hu id ig ilo iso kg kqn kwy lg ln loz lu lua lue lus mfe mh mos ms mt niu no nso ny pag pap pis
pl pon rnd ro ru run rw sg sk sl sm sn srn st sv swc tiv tl tll tn to tpi ts tum tvl tw ty uk ve vi
war wls xh yap yo zne
fse: fi | ga: en | gaa: de en es fi fr sv | gem: en gem | gil: en es fi fr sv | gl: en es pt
gmq: en gmq | gmw: en gmw | grk: en | guw: de en es fi fr sv | gv: en | ha: en es fi fr sv
he: ar de eo es fi fr it ru sv uk | hi: en ur | hil: de en fi | ho: en | hr: es fi fr sv
ht: en es fi fr sv | hu: de en eo fi fr sv uk | hy: en ru | id: en es fi fr sv
ig: de en es fi fr sv | iir: en iir | ilo: de en es fi sv | inc: en inc | ine: en ine
is: de en eo es fi fr it sv | iso: en es fi fr sv | it: ar bg ca de en eo es fr is lt ms sv uk vi
itc: en itc | ja: ar bg da de en es fi fr he hu it ms nl pl pt ru sh sv tr vi | jap: en
ka: en ru | kab: en | kg: en es fr sv | kj: en | kl: en | ko: de en es fi fr hu ru sv
kqn: en es fr sv | kwn: en | kwy: en fr sv | lg: en es fi fr sv | ln: de en es fr
loz: de en es fi fr sv | lt: de eo es fr it pl ru sv tr | lu: en es fi fr sv
lua: en es fi fr sv | lue: en es fi fr sv | lun: en | luo: en | lus: en es fi fr sv
lv: en es fi fr ru sv | mfe: en es | mfs: es | mg: en es | mh: en es fi | mk: en es fi fr
mkh: en | ml: en | mos: en | mr: en | ms: de fr it ms | mt: en es fi fr sv | mul: en | ng: en
nic: en | niu: de en es fi fr sv | nl: af ca en eo es fi fr no sv uk
no: da de es fi fr nl no pl ru sv uk | nso: de en es fi fr sv | ny: de en es | nyk: en | om: en
pa: en | pag: de en es fi sv | pap: de en es fi fr | phi: en | pis: en es fi fr sv
pl: ar de en eo es fr lt no sv uk | pon: en es fi fr sv | pqe: en | prl: es | pt: ca eo gl tl uk
rn: de en es fr ru | rnd: en fr sv | ro: eo fi fr sv | roa: en
ru: af ar bg da en eo es et eu fi fr he hy lt lv no sl sv uk vi | run: en es sv | rw: en es fr sv
sal: en | sem: en sem | sg: en es fi fr sv | sh: eo uk | sk: en es fi fr sv
sl: es fi fr ru sv uk | sla: en sla | sm: en es fr | sn: en es fr sv | sq: en es sv
srn: en es fr sv | ss: en | ssp: es | st: en es fi fr sv
sv: NORWAY ZH af ase bcl bem bg bi bzs ceb chk crs cs ee efi el en eo es et fi fj fr gaa gil guw ha
he hil ho hr ht hu id ig ilo is iso kg kqn kwy lg ln lu lua lue lus lv mfe mh mos mt niu nl no nso
ny pag pap pis pon rnd ro ru run rw sg sk sl sm sn sq srn st sv swc th tiv tll tn to toi tpi ts tum
tvl tw ty uk umb ve war wls xh yap yo zne
swc: en es fi fr sv | taw: en | th: en fr | ti: en | tiv: en fr sv | tl: de en es pt
tll: en es fi fr sv | tn: en es fr sv | to: en es fr sv | toi: en es fi fr sv | tpi: en sv
tr: ar az en eo es fr lt sv uk | trk: en | ts: en es fi fr sv | tum: en es fr sv
tvl: en es fi fr sv | tw: es fi fr sv | ty: es fi fr sv | tzo: es
uk: bg ca cs de en es fi fr he hu it nl no pl pt ru sh sl sv tr | umb: en | ur: en
urj: en urj | ve: en es | vi: de en eo es fr it ru | vsl: es | wa: en | wal: en
war: en es fi fr sv | wls: en fr sv | xh: en es fr sv | yap: en fr sv | yo: en es fi fr sv
zai: es | zh: bg de en fi he it ms nl sv uk vi | zle: en zle | zls: en zls | zlw: en fiu zlw
zne: es fi fr sv
"""
