"""The general rules issue-13p took from the hand-written ``blind`` split (docs/NLU.md,
"Measured (issue-13p)"):
counts written as words of a unit, options named by their number and unit, and everyday
uses of product words. A small hardware shop of our own, not the split's."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.nlu.entities import extract, order_intent
from catalog.models import Catalog
from catalog.search import ProductIndex
from tests.unit.catalog_builders import catalog, option, product


def _shop() -> Catalog:
    return catalog(
        product("NAIL", {"en": "Wall Nail", "hi": "दीवार कील", "bn": "দেয়াল পেরেক",
                         "ar": "مسمار جدار"}, ("nail", "مسمار", "कील", "পেরেক"),
                unit="piece"),
        product("BULB", {"en": "LED Bulb", "hi": "एलईडी बल्ब", "bn": "এলইডি বাল্ব",
                         "ar": "لمبة ليد"}, ("bulb", "لمبة", "बल्ब", "বাল্ব"), unit="piece"),
        product("DISK", {"en": "Hard Disk", "hi": "हार्ड डिस्क", "bn": "হার্ড ডিস্ক"},
                options=(option("DISK-500", "500 GB"), option("DISK-2000", "2000 GB")),
                unit="piece"),
        product("WIRE", {"en": "Data Cable", "hi": "डेटा केबल"}, ("cable",),
                options=(option("WIRE-MICRO", "Micro USB"), option("WIRE-C", "Type-C")),
                unit="piece"),
        product("PACK", {"en": "Solar Lantern", "ar": "فانوس شمسي"},
                options=(option("PACK-10000", "10000 mAh"), option("PACK-20000", "20000 mAh")),
                unit="piece"),
        product("GIFT", {"en": "Gift Card", "hi": "गिफ्ट कार्ड", "ar": "بطاقة هدية"},
                unit="piece"),
        product("RINGL", {"en": "Ring Light", "hi": "रिंग लाइट"}, ("ring", "रिंग"),
                unit="piece"),
        product("FRAME", {"en": "Photo Frame", "ar": "برواز صور"}, unit="piece"),
        product("SAW", {"en": "Hand Saw", "ar": "منشار يدوي"}, ("منشار",), unit="piece"),
        product("HOOK", {"en": "Wall Hook", "ar": "علاقة"}, ("جراب",), unit="piece"),
        product("FAN", {"en": "Micro Fan"}, unit="piece"),
        product("LAMP", {"en": "USB Lamp"}, unit="piece"),
    )


def _items(text: str) -> list[tuple[str, int]]:
    found = extract(text, ProductIndex.build(_shop()))
    return [(i.sku, i.quantity) for i in found.items if not i.candidates and not i.negated]


@pytest.mark.parametrize(("text", "items"), [
    ("হাফ ডজন পেরেক দেন", [("NAIL", 6)]),          # হাফ, हाफ: the loan word "half"
    ("हाफ दर्जन कील चाहिए", [("NAIL", 6)]),
    ("حبتين لمبة ليد", [("BULB", 2)]),              # the dual of حبة (a piece): two
    ("ابي قطعتين مسمار", [("NAIL", 2)]),
    ("١٠ باكيتات حديد مسمار", [("NAIL", 10)]),      # باكيتات (packets), then a describing
    ("٣ حبات كبيرة لمبة", [("BULB", 3)]),           # word: the unit keeps the count
])
def test_counts_written_as_words_of_a_unit(text: str, items: list[tuple[str, int]]) -> None:
    assert _items(text) == items


@pytest.mark.parametrize(("text", "items"), [
    ("५०० जीबी हार्ड डिस्क चाहिए", [("DISK-500", 1)]),   # GB in Devanagari
    ("২০০০ জিবি হার্ড ডিস্ক ২টা", [("DISK-2000", 2)]),   # and in Bengali
    ("hard disk 500gb x3", [("DISK-500", 3)]),           # glued to its number
])
def test_an_options_unit_is_met_in_any_script(text: str, items: list[tuple[str, int]]) -> None:
    assert _items(text) == items


@pytest.mark.parametrize(("text", "items"), [
    # "micro" and "usb" alone are loose parts of Micro Fan and USB Lamp: beside a cable
    # they are its option
    ("2 micro usb cable", [("WIRE-MICRO", 2)]),
    # each cable takes the option nearest to it
    ("2 micro usb cable 3 type-c cable", [("WIRE-MICRO", 2), ("WIRE-C", 3)]),
    ("1 micro fan", [("FAN", 1)]),                       # a name in full is no loose part
])
def test_an_option_beside_its_product_takes_a_loose_word(
        text: str, items: list[tuple[str, int]]) -> None:
    assert _items(text) == items


@pytest.mark.parametrize(("text", "items"), [
    ("solar lantern 20000 aur 2 nail", [("PACK-20000", 1), ("NAIL", 2)]),  # no count is 20000
    ("فانوس شمسي 10000 ثنتين", [("PACK-10000", 2)]),           # a count of its own after it
    ("hard disk 500 2", [("DISK-500", 2)]),
    ("ek 500 wala hard disk", [("DISK-500", 1)]),            # tied to the name by "wala"
    ("একটা ২০০০ এর হার্ড ডিস্ক", [("DISK-2000", 1)]),          # by এর
    ("hard disk 2", [("DISK", 2)]),                          # a count, no option's number
    ("2 hard disk", [("DISK", 2)]),
])
def test_an_options_number_without_its_unit_names_it(
        text: str, items: list[tuple[str, int]]) -> None:
    assert _items(text) == items


@pytest.mark.parametrize(("text", "intent"), [
    ("2000 er hard disk koto?", "product_price"),     # "how much", the clause's end
    ("হার্ড ডিস্ক কত?", "product_price"),
    ("solar lantern koto porbe", "product_price"),
    ("solar lantern koto ghonta chole?", "add_to_cart"),  # how many hours: no price cue
])
def test_bengali_how_much_at_the_end_asks_the_price(text: str, intent: str) -> None:
    found = extract(text, ProductIndex.build(_shop()))
    assert order_intent("add_to_cart", text, found) == intent


@pytest.mark.parametrize(("text", "items"), [
    ("2 nail, i'll pay by card", [("NAIL", 2)]),
    ("1 bulb card se payment karunga", [("BULB", 1)]),
    ("१ बल्ब, पेमेंट कार्ड से करूँगा", [("BULB", 1)]),
    ("١ لمبة بدفع بالبطاقة", [("BULB", 1)]),
    ("2 gift card, pay by upi", [("GIFT", 2)]),           # counted: an item
])
def test_a_product_word_beside_paying_is_the_means_of_paying(
        text: str, items: list[tuple[str, int]]) -> None:
    assert _items(text) == items


@pytest.mark.parametrize(("text", "items"), [
    ("2 nail pls, ring me when ready", [("NAIL", 2)]),   # an object pronoun after it
    ("2 bulb chahiye, ring kar dena jab ready ho", [("BULB", 2)]),  # Hindi's light verb
    ("मुझे २ बल्ब चाहिए, तैयार हो तो रिंग कर देना", [("BULB", 2)]),
    ("1 ring light aur 2 nail", [("RINGL", 1), ("NAIL", 2)]),
    ("2 ring kar do", [("RINGL", 2)]),                   # counted: the product
])
def test_a_product_word_made_a_verb_is_no_item(text: str,
                                               items: list[tuple[str, int]]) -> None:
    assert _items(text) == items


@pytest.mark.parametrize(("text", "items"), [
    ("٢ مسمار سور", [("NAIL", 2)]),          # سور (wall) romanises as صور (pictures)
    ("٢ برواز سور", [("FRAME", 2)]),         # beside برواز it is the frame's word
    ("ابي منشر", [("SAW", 1)]),              # a letter lost: still the saw
])
def test_arabic_words_alike_only_when_their_letters_agree(
        text: str, items: list[tuple[str, int]]) -> None:
    assert _items(text) == items


@pytest.mark.parametrize(("text", "items"), [
    ("٢ لمبة بس المسمار لا، عندي واحد", [("BULB", 2)]),   # "لا" closing the clause
    ("٢ لمبة والمسمار لا", [("BULB", 2)]),
    ("٢ مسمار لا بأس", [("NAIL", 2)]),                    # "لا بأس" (no problem): no refusal
    ("1 bulb, not the nail", [("BULB", 1)]),
])
def test_an_item_refused_inside_an_order(text: str, items: list[tuple[str, int]]) -> None:
    assert _items(text) == items


@pytest.mark.parametrize("text", ["ring light bad den", "2ta bulb baad diyen"])
def test_romanised_bengali_leave_it_out_removes(text: str) -> None:
    found = extract(text, ProductIndex.build(_shop()))
    assert found.items
    assert all(i.removal for i in found.items)
    assert order_intent("add_to_cart", text, found) == "remove_from_cart"


@pytest.mark.parametrize(("text", "items"), [
    ("my bulb died yesterday, send 2 nail", [("NAIL", 2)]),
    ("1 ring light aur bulb bhi badalna hai, toot gaya", [("RINGL", 1)]),
    ("bulb kharab ho gaya, ek chahiye", [("BULB", 1)]),     # the only product: a new one
    ("2 nail, 1 bulb broken one replace", [("NAIL", 2), ("BULB", 1)]),  # counted
])
def test_a_broken_thing_beside_an_order_is_no_item(text: str,
                                                   items: list[tuple[str, int]]) -> None:
    assert _items(text) == items


@pytest.mark.parametrize(("text", "items"), [
    ("2 bulb chahiye, jab ready ho bata dena", [("BULB", 2)]),   # "jab" (when)
    ("2 nail aur 1 jarab", [("NAIL", 2), ("HOOK", 1)]),          # a longer word still may
])
def test_a_short_latin_word_is_no_loose_spelling_of_an_arabic_one(
        text: str, items: list[tuple[str, int]]) -> None:
    assert _items(text) == items


@pytest.mark.parametrize(("text", "items"), [
    ("bhai room no 304 pe teen bulb bhej do", [("BULB", 3)]),   # "no 304": number 304
    ("no bulb, 2 nail", [("NAIL", 2)]),                          # "no" before a word refuses
])
def test_no_before_a_number_is_its_sign(text: str, items: list[tuple[str, int]]) -> None:
    found = extract(text, ProductIndex.build(_shop()))
    assert _items(text) == items
    assert order_intent("deny", text, found) == "add_to_cart"


@pytest.mark.parametrize(("text", "intent"), [
    ("रिंग लाइट १ भेजो, बच्चों के साथ घूमने जा रहे हैं", "add_to_cart"),  # a verb of sending
    ("2 nail chahiye", "add_to_cart"),                               # a word of wanting
    ("2 nail kam karo", "remove_from_cart"),                         # neither: as read
    ("2 nail hatao, 1 bulb bhejo", "remove_from_cart"),              # a removal stays one
])
def test_a_removal_reading_with_a_verb_of_sending_is_an_order(text: str, intent: str) -> None:
    found = extract(text, ProductIndex.build(_shop()))
    assert order_intent("remove_from_cart", text, found) == intent


def test_a_word_the_catalog_has_is_no_loose_spelling_of_another_scripts_word() -> None:
    # بطارية sits in two names (ask which); the Latin alias "betri" only looks like it
    shop = catalog(product("BIG", {"en": "Big Cell", "ar": "بطارية كبيرة"}),
                   product("SMALL", {"en": "Small Cell", "ar": "بطارية صغيرة"}),
                   product("OTHER", {"en": "Other Thing"}, ("betri",)))
    found = extract("٢ بطارية", ProductIndex.build(shop))
    assert [(i.candidates, i.quantity) for i in found.items] == [(("BIG", "SMALL"), 2)]
    assert [i.sku for i in extract("betri 1", ProductIndex.build(shop)).items] == ["OTHER"]


@pytest.mark.parametrize(("read", "text", "intent"), [
    ("product_price", "5 nail for the office guys 👍", "add_to_cart"),   # no question in it
    ("product_info", "ring light x1 for the game room", "add_to_cart"),
    ("product_price", "5 nail kitne ka", "product_price"),             # a price cue
    ("product_price", "how much for 5 nail", "product_price"),
    ("product_info", "2 bulb, warm light?", "product_info"),           # a question mark
    ("product_info", "2 bulb and the nail", "product_info"),           # the nail not counted
])
def test_a_question_reading_of_counted_items_without_a_question_is_an_order(
        read: str, text: str, intent: str) -> None:
    found = extract(text, ProductIndex.build(_shop()))
    assert order_intent(read, text, found) == intent


@pytest.mark.parametrize(("text", "intent"), [
    ("2ta bulb koto porbe?", "product_price"),         # an amount, a price cue, a "?"
    ("5 nail ka price kya hai?", "product_price"),
    ("5 nail ka price kya hai", "add_to_cart"),       # no question mark: as read
    ("add 2 bulb, price?", "add_to_cart"),            # a verb of adding
    ("2 bulb dena, total kitne ka hua?", "add_to_cart"),  # the cue's clause names nothing
])
def test_an_order_reading_that_asks_the_price_of_an_amount_is_a_price_question(
        text: str, intent: str) -> None:
    found = extract(text, ProductIndex.build(_shop()))
    assert order_intent("add_to_cart", text, found) == intent


@pytest.mark.parametrize(("text", "items"), [
    ("half dozen s23 bulb", [("BULB", 6)]),     # "s23": a model's name, not a count
    ("चार वी8 बल्ब चाहिए", [("BULB", 4)]),
    ("3 bulb for my j7", [("BULB", 3)]),
    ("bulb2 nail3", [("BULB", 2), ("NAIL", 3)]),   # a name glued to its count
    ("x2 bulb", [("BULB", 2)]),
])
def test_a_number_glued_to_one_or_two_letters_is_a_models_name(
        text: str, items: list[tuple[str, int]]) -> None:
    assert _items(text) == items


def _covers_shop() -> Catalog:
    return catalog(
        replace(product("BACK", {"en": "Back Cover"}, ("case",), unit="piece"),
                category="cases"),
        replace(product("FLIP", {"en": "Flip Cover"}, unit="piece"), category="cases"),
        product("WALLN", {"en": "Wall Nail"}, unit="piece"),
        replace(product("BULB", {"en": "LED Bulb"}, ("bulb",), unit="piece"),
                category="lights"),
    )


@pytest.mark.parametrize(("text", "items"), [
    ("my wife needs 1 flip case, 1 bulb", [("FLIP", 1), ("BULB", 1)]),  # one thing: Flip
    ("1 flip, 1 case", [("FLIP", 1), ("BACK", 1)]),      # two things, each counted
    ("1 wall bulb", [("WALLN", 1), ("BULB", 1)]),        # across categories: two words
])
def test_a_word_of_one_name_before_a_word_of_its_kind_is_one_thing(
        text: str, items: list[tuple[str, int]]) -> None:
    found = extract(text, ProductIndex.build(_covers_shop()))
    assert [(i.sku, i.quantity) for i in found.items] == items


def _owners_shop() -> Catalog:
    return catalog(
        product("BATT", {"en": "Phone Battery", "hi": "मोबाइल बैटरी", "ar": "بطارية جوال"},
                unit="piece"),
        product("POUCH", {"en": "Rain Pouch", "hi": "रेन पाउच", "ar": "كيس مطر"},
                unit="piece"),
    )


@pytest.mark.parametrize(("text", "items"), [
    ("2 rain pouch for my phone", [("POUCH", 2)]),         # what the pouch is for
    ("ekta rain pouch lagbe, phone er jonno", [("POUCH", 1)]),
    ("रेन पाउच दो, मोबाइल के लिए", [("POUCH", 2)]),
    ("كيس مطر ٢ للجوال", [("POUCH", 2)]),                  # لل: for the
    ("2 rain pouch, 1 phone", [("POUCH", 2), ("BATT", 1)]),  # a count of its own: an item
    ("phone ki battery 1", [("BATT", 1)]),                  # the product's own words
    ("pouch ka phone battery", [("POUCH", 1), ("BATT", 1)]),  # first of all: kept as read
])
def test_a_word_of_a_name_marked_as_an_owner_is_no_item(
        text: str, items: list[tuple[str, int]]) -> None:
    found = extract(text, ProductIndex.build(_owners_shop()))
    assert [(i.sku, i.quantity) for i in found.items if not i.candidates] == items


def _heads_shop() -> Catalog:
    return catalog(
        product("STRAP", {"en": "Smart Watch Strap", "hi": "स्मार्ट वॉच स्ट्रैप"},
                unit="piece"),
        product("BATT", {"en": "Phone Battery"}, unit="piece"),
        product("PIN", {"en": "SIM Pin", "ar": "دبوس شريحة"}, unit="piece"),
        product("CHARGER", {"en": "Charger 20W"}, unit="piece"),
    )


@pytest.mark.parametrize(("text", "items"), [
    ("charger chahiye, smart watch bhi", [("CHARGER", 1)]),  # describing words only
    ("2 charger phone pe bhejo", [("CHARGER", 2)]),
    ("do you have smart watch?", [("STRAP", 1)]),      # the only product: as read
    ("1 smart watch strap", [("STRAP", 1)]),
    ("2 smart watch", [("STRAP", 2)]),                 # a count of its own: the item
    ("smart watch ka strap chahiye", [("STRAP", 1)]),  # its head a word later
    ("ابي ابر شريحة", [("PIN", 1)]),                   # an Arabic head of the shopper's own
    ("charger chahiye", [("CHARGER", 1)]),             # "20W" is a unit, not the head
])
def test_a_names_describing_words_without_its_head_name_nothing(
        text: str, items: list[tuple[str, int]]) -> None:
    found = extract(text, ProductIndex.build(_heads_shop()))
    assert [(i.sku, i.quantity) for i in found.items if not i.candidates] == items


@pytest.mark.parametrize(("text", "items"), [
    ("2 nail chahiye, ready hole ekta ring diyen", [("NAIL", 2)]),  # give a ring then
    ("২টা পেরেক লাগবে, রেডি হলে একটা রিং দিয়েন", [("NAIL", 2)]),
    ("ekta ring diyen", [("RINGL", 1)]),                           # no "when ready"
    ("ready hole 2 nail diyen", [("NAIL", 2)]),                     # the only product
    ("2 nail, when ready 1 ring light", [("NAIL", 2), ("RINGL", 1)]),  # a name in full
])
def test_a_word_in_a_clause_of_when_it_is_ready_is_no_item(
        text: str, items: list[tuple[str, int]]) -> None:
    assert _items(text) == items


def _glossed_shop() -> Catalog:
    return catalog(
        product("LEAD", {"en": "Power Lead", "hi": "पावर लीड"},
                options=(option("LEAD-D", "Round Pin (Type D)"),
                         option("LEAD-A", "Flat Pin (Type A)")),
                unit="piece"),
    )


@pytest.mark.parametrize(("text", "items"), [
    ("1 round pin power lead", [("LEAD-D", 1)]),        # the name before the brackets
    ("2 type a power lead", [("LEAD-A", 2)]),           # the gloss inside them
])
def test_an_option_is_named_by_either_part_of_a_bracketed_name(
        text: str, items: list[tuple[str, int]]) -> None:
    found = extract(text, ProductIndex.build(_glossed_shop()))
    assert [(i.sku, i.quantity) for i in found.items if not i.candidates] == items


@pytest.mark.parametrize(("text", "items"), [
    ("ek micro usb cable ek type-c", [("WIRE-MICRO", 1), ("WIRE-C", 1)]),  # one more cable
    ("2 micro usb data cable, 1 type-c", [("WIRE-MICRO", 2), ("WIRE-C", 1)]),
    ("1 data cable 1 type-c", [("WIRE-C", 1)]),       # the name's only option, as before
])
def test_another_option_after_a_name_with_its_option_is_one_more(
        text: str, items: list[tuple[str, int]]) -> None:
    assert _items(text) == items


# ---- issue-13s: rules from `blind` and `wild`, each on this file's own catalogs ----------
@pytest.mark.parametrize(("text", "items"), [
    # Bengali's polite imperative of later (-য়েন, -ien) refused by না, as the future is
    ("১টা বাল্ব, হার্ড ডিস্ক পাঠাইয়েন না", [("BULB", 1)]),
    ("1ta bulb, hard disk pathaien na", [("BULB", 1)]),
    ("2ta nail, bulb diyen na", [("NAIL", 2)]),
    ("2ta nail, bulb diyen", [("NAIL", 2), ("BULB", 1)]),    # no না: please give
    ("bulb diyen na?", [("BULB", 1)]),                      # asked: won't you give it?
])
def test_a_bengali_later_imperative_with_na_refuses(
        text: str, items: list[tuple[str, int]]) -> None:
    assert _items(text) == items


@pytest.mark.parametrize(("text", "intent"), [
    # the "2" of "x2" is a count, not the "2" inside "2000": no question cue, an order
    ("2000 gb hard disk x2 for the office", "add_to_cart"),
    ("the 2000 gb hard disk for the office", "product_info"),  # only the option's number
])
def test_a_count_is_an_options_number_only_word_for_word(text: str, intent: str) -> None:
    found = extract(text, ProductIndex.build(_shop()))
    assert order_intent("product_info", text, found) == intent


@pytest.mark.parametrize(("text", "items"), [
    # describing words marked as an owner ("of the old phone") name nothing, even alone
    ("2ta case lagbe, puran phone er", []),
    ("smart watch ke liye 2 band", []),
    ("phone's case", []),
    ("phone lagbe", [("BATT", 1)]),                    # alone and unmarked: as read
    ("phone battery er jonno", [("BATT", 1)]),         # the name in full
    ("2 phone er", [("BATT", 2)]),                     # a count of its own
])
def test_describing_words_marked_as_an_owner_name_nothing_even_alone(
        text: str, items: list[tuple[str, int]]) -> None:
    found = extract(text, ProductIndex.build(_heads_shop()))
    assert [(i.sku, i.quantity) for i in found.items if not i.candidates] == items


@pytest.mark.parametrize(("text", "items"), [
    # the words before "wala" say what the thing after it is like: no item of their own
    ("ek bulb wala jhoomar aur 2 nail", [("NAIL", 2)]),
    ("२ बल्ब वाला झूमर और २ कील", [("NAIL", 2)]),
    ("ek nail wala packet", [("NAIL", 1)]),            # a pack word after it: the item
    ("2 bulb wala, 1 nail", [("BULB", 2), ("NAIL", 1)]),  # nothing after it in its clause
])
def test_a_mention_before_wala_describes_the_thing_after_it(
        text: str, items: list[tuple[str, int]]) -> None:
    found = extract(text, ProductIndex.build(_shop()))
    assert [(i.sku, i.quantity) for i in found.items if not i.candidates] == items
    # its words still name a product to the intent engine (masked as one)
    words = [w.rstrip(",") for w in text.split()]
    described = words[words.index(next(w for w in words if w in ("wala", "वाला"))) - 1]
    assert any(text[a:b] == described for a, b in found.product_spans)


@pytest.mark.parametrize(("text", "items"), [
    # a whole name matched loosely right after "for", uncounted, after another product:
    # what that product is for ("2 dozen pencil for school": school is only like Scale)
    ("2 nail for the balb", [("NAIL", 2)]),
    ("2 bulb for my nails", [("BULB", 2)]),
    ("2 bulb for 2 nail", [("BULB", 2), ("NAIL", 2)]),       # a count of its own: an item
    ("2 nail for bulb", [("NAIL", 2), ("BULB", 1)]),         # the name exactly: as read
])
def test_a_loose_name_after_for_is_what_another_product_is_for(
        text: str, items: list[tuple[str, int]]) -> None:
    assert _items(text) == items


@pytest.mark.parametrize(("text", "items"), [
    # a number after describing words and marked by a genitive names a model, no count
    ("smart watch 7 ka strap 2", [("STRAP", 2)]),
    ("phone 11 er battery ekta", [("BATT", 1)]),
    ("smart watch 2 aur charger 1", [("STRAP", 2), ("CHARGER", 1)]),  # unmarked: a count
])
def test_a_number_after_describing_words_marked_by_a_genitive_is_a_model(
        text: str, items: list[tuple[str, int]]) -> None:
    found = extract(text, ProductIndex.build(_heads_shop()))
    assert [(i.sku, i.quantity) for i in found.items if not i.candidates] == items


@pytest.mark.parametrize(("text", "items"), [
    # the unit first, then how many of it in words (Arabic puts the number after the noun)
    ("درزن واحد مسمار", [("NAIL", 12)]),
    ("ابي دزينة ثلاثة لمبة", [("BULB", 36)]),
    ("ek dozen nail", [("NAIL", 12)]),                 # the number first, as before
    ("dozen nail", [("NAIL", 12)]),
])
def test_a_dozen_followed_by_a_number_word_is_that_many_dozens(
        text: str, items: list[tuple[str, int]]) -> None:
    assert _items(text) == items
