"""Built-in reply texts in en, hi, bn and ar, overridable per shop (``replies:`` in shop.yaml).

Texts are ``str.format`` templates. Every key exists in all four languages (a test checks
that, and that the placeholders agree across languages).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from catalog.models import Shop

TEXTS: Mapping[str, Mapping[str, str]] = {
    "greeting": {
        "en": "Welcome to {shop}! 👋 Type *menu* to see what we have, or just tell me what you'd like, e.g. *2 masala chai*.",
        "hi": "{shop} में आपका स्वागत है! 👋 हमारा मेन्यू देखने के लिए *menu* लिखें, या सीधे बताइए क्या चाहिए, जैसे *2 मसाला चाय*।",
        "bn": "{shop}-এ স্বাগতম! 👋 আমাদের মেনু দেখতে *menu* লিখুন, অথবা সরাসরি বলুন কী চাই, যেমন *২টা মশলা চা*।",
        "ar": "أهلاً بكم في {shop}! 👋 اكتب *menu* لرؤية ما لدينا، أو أخبرني بما تريد، مثل *٢ شاي*.",
    },
    "away": {
        "en": "We're closed right now ({hours}). You can still browse and order; we'll start on it when we open.",
        "hi": "अभी दुकान बंद है ({hours})। आप फिर भी मेन्यू देखकर ऑर्डर कर सकते हैं; खुलते ही हम शुरू करेंगे।",
        "bn": "এখন দোকান বন্ধ ({hours})। তবুও মেনু দেখে অর্ডার দিতে পারেন; খোলার সাথে সাথে আমরা শুরু করব।",
        "ar": "المحل مغلق الآن ({hours}). يمكنك التصفح والطلب، وسنبدأ فور الافتتاح.",
    },
    "menu_intro": {
        "en": "Here's our menu. Pick a category:",
        "hi": "यह रहा हमारा मेन्यू। एक श्रेणी चुनें:",
        "bn": "এই আমাদের মেনু। একটি বিভাগ বেছে নিন:",
        "ar": "هذه قائمتنا. اختر فئة:",
    },
    "menu_button": {"en": "See menu", "hi": "मेन्यू देखें", "bn": "মেনু দেখুন", "ar": "القائمة"},
    "category_intro": {
        "en": "*{category}* — tap an item or type e.g. *2 {example}*:",
        "hi": "*{category}* — कोई आइटम चुनें या लिखें, जैसे *2 {example}*:",
        "bn": "*{category}* — একটি আইটেম বেছে নিন বা লিখুন, যেমন *২ {example}*:",
        "ar": "*{category}* — اختر منتجاً أو اكتب مثلاً *٢ {example}*:",
    },
    "items_button": {"en": "Choose", "hi": "चुनें", "bn": "বেছে নিন", "ar": "اختر"},
    "product_details": {
        "en": "*{name}* — {price}{unit}\n{description}",
        "hi": "*{name}* — {price}{unit}\n{description}",
        "bn": "*{name}* — {price}{unit}\n{description}",
        "ar": "*{name}* — {price}{unit}\n{description}",
    },
    "price": {
        "en": "*{name}* costs {price}{unit}.",
        "hi": "*{name}* की कीमत {price}{unit} है।",
        "bn": "*{name}*-এর দাম {price}{unit}।",
        "ar": "سعر *{name}* هو {price}{unit}.",
    },
    "options_list": {
        "en": "Options: {options}",
        "hi": "विकल्प: {options}",
        "bn": "বিকল্প: {options}",
        "ar": "الخيارات: {options}",
    },
    "in_stock_few": {
        "en": "Only {stock} left.",
        "hi": "सिर्फ़ {stock} बचे हैं।",
        "bn": "মাত্র {stock}টি বাকি।",
        "ar": "تبقى {stock} فقط.",
    },
    "sold_out": {
        "en": "Sorry, *{name}* is sold out right now.",
        "hi": "माफ़ कीजिए, *{name}* अभी खत्म हो गया है।",
        "bn": "দুঃখিত, *{name}* এখন শেষ হয়ে গেছে।",
        "ar": "عذراً، نفد *{name}* حالياً.",
    },
    "alternatives": {
        "en": "You might like: {names}",
        "hi": "आप इन्हें आज़मा सकते हैं: {names}",
        "bn": "এগুলো দেখতে পারেন: {names}",
        "ar": "قد يعجبك: {names}",
    },
    "have_it": {
        "en": "Yes, we have *{name}* — {price}{unit}. Want some? Reply e.g. *2 {name}*.",
        "hi": "हाँ, *{name}* है — {price}{unit}। चाहिए? लिखें, जैसे *2 {name}*।",
        "bn": "হ্যাঁ, *{name}* আছে — {price}{unit}। নেবেন? লিখুন, যেমন *২ {name}*।",
        "ar": "نعم، لدينا *{name}* — {price}{unit}. هل تريد؟ اكتب مثلاً *٢ {name}*.",
    },
    "not_found": {
        "en": "Sorry, I couldn't find that.",
        "hi": "माफ़ कीजिए, वह नहीं मिला।",
        "bn": "দুঃখিত, ওটা খুঁজে পেলাম না।",
        "ar": "عذراً، لم أجد ذلك.",
    },
    "added": {
        "en": "Added {items} to your cart. 🛒",
        "hi": "{items} आपकी टोकरी में जोड़ दिया। 🛒",
        "bn": "{items} আপনার কার্টে যোগ করা হয়েছে। 🛒",
        "ar": "تمت إضافة {items} إلى سلتك. 🛒",
    },
    "removed": {
        "en": "Removed {items} from your cart.",
        "hi": "{items} टोकरी से हटा दिया।",
        "bn": "{items} কার্ট থেকে সরানো হয়েছে।",
        "ar": "تمت إزالة {items} من سلتك.",
    },
    "not_in_cart": {
        "en": "That isn't in your cart.",
        "hi": "वह आपकी टोकरी में नहीं है।",
        "bn": "ওটা আপনার কার্টে নেই।",
        "ar": "هذا ليس في سلتك.",
    },
    "stock_limited": {
        "en": "Only {stock} of *{name}* available; I've put {stock} in your cart.",
        "hi": "*{name}* सिर्फ़ {stock} उपलब्ध हैं; टोकरी में {stock} रखे हैं।",
        "bn": "*{name}* মাত্র {stock}টি আছে; কার্টে {stock}টি রাখলাম।",
        "ar": "متوفر {stock} فقط من *{name}*؛ وضعت {stock} في سلتك.",
    },
    "order_unknown_items": {
        "en": "{count} item(s) from your catalog cart are no longer sold here and were left out.",
        "hi": "आपकी कैटलॉग कार्ट के {count} आइटम अब नहीं मिलते, उन्हें हटा दिया गया।",
        "bn": "আপনার ক্যাটালগ কার্টের {count}টি আইটেম আর পাওয়া যায় না, বাদ দেওয়া হয়েছে।",
        "ar": "{count} من منتجات سلتك لم تعد متوفرة وتم استبعادها.",
    },
    "order_repriced": {
        "en": "Prices have changed; you'll pay today's price: {items}.",
        "hi": "दाम बदल गए हैं; आज का दाम लगेगा: {items}।",
        "bn": "দাম বদলেছে; আজকের দাম প্রযোজ্য: {items}।",
        "ar": "تغيرت الأسعار؛ ستدفع سعر اليوم: {items}.",
    },
    "cart_empty": {
        "en": "Your cart is empty. Type *menu* to browse.",
        "hi": "आपकी टोकरी खाली है। मेन्यू देखने के लिए *menu* लिखें।",
        "bn": "আপনার কার্ট খালি। মেনু দেখতে *menu* লিখুন।",
        "ar": "سلتك فارغة. اكتب *menu* للتصفح.",
    },
    "cart_header": {
        "en": "🛒 Your cart:",
        "hi": "🛒 आपकी टोकरी:",
        "bn": "🛒 আপনার কার্ট:",
        "ar": "🛒 سلتك:",
    },
    "cart_subtotal": {
        "en": "Subtotal: {amount}",
        "hi": "कुल (डिलीवरी से पहले): {amount}",
        "bn": "সাবটোটাল: {amount}",
        "ar": "المجموع الفرعي: {amount}",
    },
    "cart_delivery": {
        "en": "Delivery: {amount}",
        "hi": "डिलीवरी: {amount}",
        "bn": "ডেলিভারি: {amount}",
        "ar": "التوصيل: {amount}",
    },
    "cart_delivery_free": {
        "en": "Delivery: free",
        "hi": "डिलीवरी: मुफ़्त",
        "bn": "ডেলিভারি: ফ্রি",
        "ar": "التوصيل: مجاني",
    },
    "cart_total": {
        "en": "*Total: {amount}*",
        "hi": "*कुल: {amount}*",
        "bn": "*মোট: {amount}*",
        "ar": "*الإجمالي: {amount}*",
    },
    "checkout_button": {"en": "Checkout", "hi": "ऑर्डर करें", "bn": "অর্ডার করুন",
                        "ar": "إتمام الطلب"},
    "add_more_button": {"en": "Add more", "hi": "और जोड़ें", "bn": "আরও যোগ করুন",
                        "ar": "أضف المزيد"},
    "fallback": {
        "en": "Sorry, I didn't get that. You can type *menu*, ask a price (*how much is samosa?*), add items (*2 masala chai*), see your *cart*, or ask for a *human*.",
        "hi": "माफ़ कीजिए, समझ नहीं आया। आप *menu* लिख सकते हैं, दाम पूछ सकते हैं (*समोसा कितने का है?*), आइटम जोड़ सकते हैं (*2 मसाला चाय*), *cart* देख सकते हैं, या किसी इंसान से बात कर सकते हैं।",
        "bn": "দুঃখিত, বুঝতে পারিনি। আপনি *menu* লিখতে পারেন, দাম জিজ্ঞেস করতে পারেন (*সিঙ্গারা কত?*), আইটেম যোগ করতে পারেন (*২টা মশলা চা*), *cart* দেখতে পারেন, বা মানুষের সাথে কথা বলতে পারেন।",
        "ar": "عذراً، لم أفهم. يمكنك كتابة *menu*، أو السؤال عن السعر (*كم سعر الشاي؟*)، أو إضافة منتجات (*٢ شاي*)، أو عرض *السلة*، أو طلب التحدث إلى موظف.",
    },
    "did_you_mean": {
        "en": "Did you mean: {names}?",
        "hi": "क्या आपका मतलब था: {names}?",
        "bn": "আপনি কি বোঝাতে চাইছেন: {names}?",
        "ar": "هل تقصد: {names}؟",
    },
    "which_product": {
        "en": "Which item? Type its name, or *menu* to browse.",
        "hi": "कौन सा आइटम? उसका नाम लिखें, या मेन्यू के लिए *menu*।",
        "bn": "কোন আইটেম? নাম লিখুন, বা মেনুর জন্য *menu*।",
        "ar": "أي منتج؟ اكتب اسمه، أو *menu* للتصفح.",
    },
    "choose_option": {
        "en": "*{name}* comes in: {options}. Which one?",
        "hi": "*{name}* इनमें मिलता है: {options}। कौन सा?",
        "bn": "*{name}* পাওয়া যায়: {options}। কোনটা?",
        "ar": "*{name}* متوفر بـ: {options}. أيها تريد؟",
    },
    "thanks": {
        "en": "You're welcome! 😊",
        "hi": "आपका स्वागत है! 😊",
        "bn": "আপনাকেও ধন্যবাদ! 😊",
        "ar": "على الرحب والسعة! 😊",
    },
    "goodbye": {
        "en": "Bye! Message us any time. 👋",
        "hi": "अलविदा! कभी भी मैसेज करें। 👋",
        "bn": "বিদায়! যেকোনো সময় মেসেজ করুন। 👋",
        "ar": "مع السلامة! راسلنا في أي وقت. 👋",
    },
    "hours": {
        "en": "Our hours: {hours}. {now}",
        "hi": "हमारा समय: {hours}। {now}",
        "bn": "আমাদের সময়: {hours}। {now}",
        "ar": "مواعيدنا: {hours}. {now}",
    },
    "open_now": {"en": "We're open now.", "hi": "अभी दुकान खुली है।", "bn": "এখন খোলা আছে।",
                 "ar": "نحن مفتوحون الآن."},
    "closed_now": {"en": "We're closed right now.", "hi": "अभी दुकान बंद है।",
                   "bn": "এখন বন্ধ আছে।", "ar": "نحن مغلقون الآن."},
    "delivery_info": {
        "en": "We deliver to {areas}. Delivery costs {fee}{free}.",
        "hi": "हम {areas} में डिलीवरी करते हैं। डिलीवरी शुल्क {fee}{free}।",
        "bn": "আমরা {areas}-এ ডেলিভারি করি। ডেলিভারি চার্জ {fee}{free}।",
        "ar": "نوصل إلى {areas}. رسوم التوصيل {fee}{free}.",
    },
    "delivery_free_above": {
        "en": ", free above {amount}",
        "hi": ", {amount} से ऊपर मुफ़्त",
        "bn": ", {amount}-এর বেশি হলে ফ্রি",
        "ar": "، مجاناً للطلبات فوق {amount}",
    },
    "no_delivery": {
        "en": "We don't deliver; please pick up at the shop.",
        "hi": "हम डिलीवरी नहीं करते; कृपया दुकान से ले जाएँ।",
        "bn": "আমরা ডেলিভারি করি না; দোকান থেকে নিয়ে যান।",
        "ar": "لا نقدم التوصيل؛ يرجى الاستلام من المحل.",
    },
    "language_switched": {
        "en": "Okay, I'll reply in English.",
        "hi": "ठीक है, अब मैं हिंदी में जवाब दूँगा।",
        "bn": "ঠিক আছে, এখন থেকে বাংলায় উত্তর দেব।",
        "ar": "حسناً، سأرد بالعربية.",
    },
    "language_unavailable": {
        "en": "Sorry, this shop speaks {languages}.",
        "hi": "माफ़ कीजिए, यह दुकान {languages} में बात करती है।",
        "bn": "দুঃখিত, এই দোকান {languages}-এ কথা বলে।",
        "ar": "عذراً، هذا المحل يتحدث {languages}.",
    },
    "unsupported_message": {
        "en": "I can read text messages, button taps, catalog carts and locations. Please type what you need.",
        "hi": "मैं टेक्स्ट, बटन, कैटलॉग कार्ट और लोकेशन पढ़ सकता हूँ। कृपया लिखकर बताइए।",
        "bn": "আমি টেক্সট, বাটন, ক্যাটালগ কার্ট আর লোকেশন পড়তে পারি। অনুগ্রহ করে লিখে জানান।",
        "ar": "أستطيع قراءة الرسائل النصية والأزرار وسلال الكتالوج والمواقع. من فضلك اكتب ما تحتاجه.",
    },
}


def text_for(shop: Shop, key: str, language: str, /, **values: Any) -> str:
    """The shop's override for ``key`` if it has one, else the built-in text."""
    override = shop.replies.get(key)
    if override is not None and (language in override.by_lang or key not in TEXTS):
        template = override.get(language, shop.default_language)
    else:
        builtin = TEXTS[key]
        template = builtin.get(language) or builtin["en"]
    if not values:
        return template
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        return template  # a merchant override with a stray brace still says something


def shop_name(shop: Shop, language: str) -> str:
    return shop.name.get(language, shop.default_language)
