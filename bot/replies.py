"""Built-in reply texts in en, hi, bn and ar, overridable per shop (``replies:`` in shop.yaml).

Texts are ``str.format`` templates. Every key exists in all four languages (a test checks
that, and that the placeholders agree across languages).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from catalog.models import Shop
from catalog.money import Money, exponent

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
    "button_expired": {
        "en": "That button is from an earlier message, so I haven't acted on it. Here is where we are now:",
        "hi": "वह बटन पिछले संदेश का है, इसलिए मैंने उस पर कुछ नहीं किया। अभी की स्थिति यह है:",
        "bn": "ওই বোতামটি আগের একটি বার্তার, তাই আমি সেটি করিনি। এখন অবস্থা এই:",
        "ar": "هذا الزر من رسالة سابقة، لذلك لم أنفّذه. هذا ما وصلنا إليه الآن:",
    },
    "button_expired_menu": {
        "en": "That button is from an earlier message, so I haven't acted on it. Your cart is empty: tap below to see the menu, or tell me what you'd like.",
        "hi": "वह बटन पिछले संदेश का है, इसलिए मैंने उस पर कुछ नहीं किया। आपका कार्ट खाली है: मेन्यू देखने के लिए नीचे टैप करें, या बताइए क्या चाहिए।",
        "bn": "ওই বোতামটি আগের একটি বার্তার, তাই আমি সেটি করিনি। আপনার কার্ট খালি: মেনু দেখতে নিচে চাপুন, অথবা বলুন কী চাই।",
        "ar": "هذا الزر من رسالة سابقة، لذلك لم أنفّذه. سلتك فارغة: اضغط أدناه لرؤية القائمة، أو أخبرني بما تريد.",
    },
    "in_stock": {
        "en": "✅ In stock",
        "hi": "✅ स्टॉक में है",
        "bn": "✅ স্টকে আছে",
        "ar": "✅ متوفر",
    },
    "sold_out_tag": {"en": "sold out", "hi": "ख़त्म", "bn": "শেষ", "ar": "نفد"},
    "info_actions": {
        "en": "Want some *{name}*? Tap below, or type e.g. *2 {name}*.",
        "hi": "*{name}* चाहिए? नीचे टैप करें, या लिखें, जैसे *2 {name}*।",
        "bn": "*{name}* নেবেন? নিচে চাপুন, অথবা লিখুন, যেমন *২ {name}*।",
        "ar": "هل تريد *{name}*؟ اضغط أدناه، أو اكتب مثلاً *٢ {name}*.",
    },
    "info_which": {
        "en": "Which product would you like to know about? e.g. *tell me about {example}*",
        "hi": "किस चीज़ के बारे में जानना है? जैसे *{example} के बारे में बताओ*",
        "bn": "কোন জিনিসটি সম্পর্কে জানতে চান? যেমন *{example} সম্পর্কে বলুন*",
        "ar": "عن أي منتج تريد أن تعرف؟ مثلاً *ما هو {example}*",
    },
    "menu_button": {"en": "See menu", "hi": "मेन्यू देखें", "bn": "মেনু দেখুন", "ar": "القائمة"},
    "category_intro": {
        "en": "*{category}* — tap an item or type e.g. *2 {example}*:",
        "hi": "*{category}* — कोई आइटम चुनें या लिखें, जैसे *2 {example}*:",
        "bn": "*{category}* — একটি আইটেম বেছে নিন বা লিখুন, যেমন *২ {example}*:",
        "ar": "*{category}* — اختر منتجاً أو اكتب مثلاً *٢ {example}*:",
    },
    "more_items": {
        "en": "…and {count} more: type a name to find it.",
        "hi": "…और {count} आइटम: नाम लिखकर खोजें।",
        "bn": "…আরও {count}টি: নাম লিখে খুঁজুন।",
        "ar": "…و{count} منتجاً آخر: اكتب الاسم للبحث.",
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
    "quantity_set": {
        "en": "Changed: {item} in your cart now.",
        "hi": "बदल दिया: अब टोकरी में {item}।",
        "bn": "বদলে দিলাম: এখন কার্টে {item}।",
        "ar": "تم التعديل: الآن في سلتك {item}.",
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
    "quantity_too_many": {
        "en": "{quantity} × *{name}* is more than one order can take (at most {limit}). How many would you like?",
        "hi": "{quantity} × *{name}* एक ऑर्डर में नहीं हो सकते (ज़्यादा से ज़्यादा {limit})। कितने चाहिए?",
        "bn": "{quantity} × *{name}* এক অর্ডারে হয় না (সর্বোচ্চ {limit})। কতগুলো চান?",
        "ar": "{quantity} × *{name}* أكثر مما يقبله طلب واحد (الحد {limit}). كم تريد؟",
    },
    "quantity_unclear": {
        "en": "I can't add “{quantity}” × *{name}*. How many would you like? Send a number, e.g. 2.",
        "hi": "“{quantity}” × *{name}* नहीं जोड़ सकता। कितने चाहिए? एक संख्या भेजें, जैसे 2।",
        "bn": "“{quantity}” × *{name}* যোগ করা যায় না। কতগুলো চান? একটা সংখ্যা লিখুন, যেমন ২।",
        "ar": "لا يمكنني إضافة “{quantity}” × *{name}*. كم تريد؟ أرسل رقماً، مثل ٢.",
    },
    "quantity_whole": {
        "en": "*{name}* can't be ordered as “{quantity}”. How many would you like? (a whole number, e.g. 2)",
        "hi": "*{name}* “{quantity}” में नहीं मिलता। कितने चाहिए? (पूरी संख्या, जैसे 2)",
        "bn": "*{name}* “{quantity}” হিসেবে পাওয়া যায় না। কতগুলো চান? (পূর্ণ সংখ্যা, যেমন ২)",
        "ar": "لا يمكن طلب *{name}* بمقدار “{quantity}”. كم تريد؟ (رقم صحيح، مثل ٢)",
    },
    "which_one": {
        "en": "Which one did you mean by “{words}”?",
        "hi": "“{words}” से आपका मतलब कौन सा है?",
        "bn": "“{words}” বলতে কোনটা বোঝাচ্ছেন?",
        "ar": "أيهما تقصد بـ “{words}”؟",
    },
    "words_not_found": {
        "en": "I couldn't find {words} in our menu. Type *menu* to see what we have.",
        "hi": "{words} हमारे मेन्यू में नहीं मिला। क्या-क्या है देखने के लिए *menu* लिखें।",
        "bn": "{words} আমাদের মেনুতে পেলাম না। কী কী আছে দেখতে *menu* লিখুন।",
        "ar": "لم أجد {words} في قائمتنا. اكتب *menu* لترى ما لدينا.",
    },
    "words_not_found_suggest": {
        "en": "I couldn't find {words}. Closest we have: {names}.",
        "hi": "{words} नहीं मिला। सबसे मिलते-जुलते: {names}।",
        "bn": "{words} পেলাম না। কাছাকাছি যা আছে: {names}।",
        "ar": "لم أجد {words}. الأقرب لدينا: {names}.",
    },
    "not_adding": {
        "en": "OK, no {items}.",
        "hi": "ठीक है, {items} नहीं।",
        "bn": "ঠিক আছে, {items} নয়।",
        "ar": "حسناً، بدون {items}.",
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
    # ---- checkout and orders -----------------------------------------------------------
    "not_taking_orders": {
        "en": "Sorry, we're not taking orders right now. You can still ask about anything on the menu.",
        "hi": "माफ़ कीजिए, अभी हम ऑर्डर नहीं ले रहे हैं। मेन्यू के बारे में कुछ भी पूछ सकते हैं।",
        "bn": "দুঃখিত, এখন আমরা অর্ডার নিচ্ছি না। মেনু নিয়ে যেকোনো প্রশ্ন করতে পারেন।",
        "ar": "عذراً، لا نستقبل الطلبات الآن. يمكنك السؤال عن أي شيء في القائمة.",
    },
    "ask_address": {
        "en": "Where should we deliver? Send your address or share your location 📍",
        "hi": "कहाँ डिलीवर करें? अपना पता भेजें या लोकेशन शेयर करें 📍",
        "bn": "কোথায় ডেলিভারি দেব? ঠিকানা লিখুন বা লোকেশন পাঠান 📍",
        "ar": "إلى أين نوصل؟ أرسل عنوانك أو شارك موقعك 📍",
    },
    "use_saved_address": {
        "en": "Deliver to: {address}?",
        "hi": "इस पते पर डिलीवर करें: {address}?",
        "bn": "এই ঠিকানায় ডেলিভারি দেব: {address}?",
        "ar": "التوصيل إلى: {address}؟",
    },
    "yes_button": {"en": "Yes", "hi": "हाँ", "bn": "হ্যাঁ", "ar": "نعم"},
    "new_address_button": {"en": "New address", "hi": "नया पता", "bn": "নতুন ঠিকানা",
                           "ar": "عنوان جديد"},
    "area_not_served": {
        "en": "Sorry, we only deliver to {areas}. Please send an address there.",
        "hi": "माफ़ कीजिए, हम सिर्फ़ {areas} में डिलीवरी करते हैं। वहाँ का पता भेजें।",
        "bn": "দুঃখিত, আমরা শুধু {areas}-এ ডেলিভারি দিই। সেখানকার ঠিকানা পাঠান।",
        "ar": "عذراً، نوصل فقط إلى {areas}. أرسل عنواناً هناك من فضلك.",
    },
    "order_summary_header": {
        "en": "Please check your order:",
        "hi": "कृपया अपना ऑर्डर जाँच लें:",
        "bn": "অনুগ্রহ করে অর্ডারটি দেখে নিন:",
        "ar": "يرجى مراجعة طلبك:",
    },
    "order_summary_address": {
        "en": "Deliver to: {address}",
        "hi": "डिलीवरी पता: {address}",
        "bn": "ঠিকানা: {address}",
        "ar": "التوصيل إلى: {address}",
    },
    "confirm_button": {"en": "Confirm order", "hi": "ऑर्डर पक्का करें", "bn": "অর্ডার নিশ্চিত",
                       "ar": "تأكيد الطلب"},
    "edit_button": {"en": "Edit cart", "hi": "टोकरी बदलें", "bn": "কার্ট বদলান",
                    "ar": "تعديل السلة"},
    "order_placed": {
        "en": "Order *{order}* placed: {total}. 🎉",
        "hi": "ऑर्डर *{order}* हो गया: {total}। 🎉",
        "bn": "অর্ডার *{order}* নেওয়া হয়েছে: {total}। 🎉",
        "ar": "تم تسجيل الطلب *{order}*: {total}. 🎉",
    },
    "stock_short": {
        "en": "Sorry, only {available} of *{name}* left. I've updated your cart; please check again.",
        "hi": "माफ़ कीजिए, *{name}* सिर्फ़ {available} बचे हैं। टोकरी ठीक कर दी है; फिर से देख लें।",
        "bn": "দুঃখিত, *{name}* মাত্র {available}টি বাকি। কার্ট ঠিক করে দিলাম; আবার দেখে নিন।",
        "ar": "عذراً، تبقى {available} فقط من *{name}*. عدلت سلتك؛ راجعها مرة أخرى.",
    },
    "pay_prompt": {
        "en": "Pay {amount} for *{order}* with any UPI app — tap the link or scan the QR. It expires in {minutes} minutes.",
        "hi": "*{order}* के लिए {amount} किसी भी UPI ऐप से चुकाएँ — लिंक दबाएँ या QR स्कैन करें। यह {minutes} मिनट में समाप्त होगा।",
        "bn": "*{order}*-এর জন্য {amount} যেকোনো UPI অ্যাপে দিন — লিংকে চাপুন বা QR স্ক্যান করুন। {minutes} মিনিটে মেয়াদ শেষ।",
        "ar": "ادفع {amount} للطلب *{order}* بأي تطبيق UPI — اضغط الرابط أو امسح رمز QR. تنتهي الصلاحية خلال {minutes} دقيقة.",
    },
    "pay_link_prompt": {
        "en": "Pay {amount} for *{order}* here: {link} (valid {minutes} minutes).",
        "hi": "*{order}* के {amount} यहाँ चुकाएँ: {link} ({minutes} मिनट तक मान्य)।",
        "bn": "*{order}*-এর {amount} এখানে দিন: {link} ({minutes} মিনিট বৈধ)।",
        "ar": "ادفع {amount} للطلب *{order}* هنا: {link} (صالح {minutes} دقيقة).",
    },
    "other_ways_prompt": {
        "en": "Or pay another way:",
        "hi": "या किसी और तरीके से भुगतान करें:",
        "bn": "অথবা অন্যভাবে পেমেন্ট করুন:",
        "ar": "أو ادفع بطريقة أخرى:",
    },
    "other_ways_button": {"en": "Payment link", "hi": "पेमेंट लिंक", "bn": "পেমেন্ট লিংক",
                          "ar": "رابط الدفع"},
    "collect_button": {"en": "Request to my UPI", "hi": "मेरे UPI पर भेजें",
                       "bn": "আমার UPI-তে পাঠান", "ar": "طلب إلى UPI"},
    "ask_vpa": {
        "en": "Send your UPI ID (like name@okhdfc) and I'll send a payment request to your UPI app.",
        "hi": "अपनी UPI ID भेजें (जैसे name@okhdfc), मैं आपके UPI ऐप पर पेमेंट रिक्वेस्ट भेजूँगा।",
        "bn": "আপনার UPI ID পাঠান (যেমন name@okhdfc), আপনার UPI অ্যাপে পেমেন্ট রিকোয়েস্ট পাঠাব।",
        "ar": "أرسل معرّف UPI الخاص بك (مثل name@okhdfc) وسأرسل طلب دفع إلى تطبيقك.",
    },
    "bad_vpa": {
        "en": "That doesn't look like a UPI ID. It looks like name@bank.",
        "hi": "यह UPI ID जैसी नहीं लगती। यह name@bank जैसी होती है।",
        "bn": "এটা UPI ID মনে হচ্ছে না। এটা name@bank এর মতো হয়।",
        "ar": "هذا لا يبدو كمعرّف UPI. الشكل الصحيح name@bank.",
    },
    "collect_sent": {
        "en": "I've sent a request for {amount} to {vpa}. Approve it in your UPI app within {minutes} minutes.",
        "hi": "{vpa} पर {amount} की रिक्वेस्ट भेज दी है। {minutes} मिनट में अपने UPI ऐप में मंज़ूर करें।",
        "bn": "{vpa}-তে {amount}-এর রিকোয়েস্ট পাঠানো হয়েছে। {minutes} মিনিটের মধ্যে UPI অ্যাপে অনুমোদন দিন।",
        "ar": "أرسلت طلباً بمبلغ {amount} إلى {vpa}. وافق عليه في تطبيق UPI خلال {minutes} دقيقة.",
    },
    "payment_unavailable": {
        "en": "Sorry, that payment method isn't available right now. Please try the UPI link.",
        "hi": "माफ़ कीजिए, यह भुगतान तरीका अभी उपलब्ध नहीं है। कृपया UPI लिंक आज़माएँ।",
        "bn": "দুঃখিত, এই পেমেন্ট পদ্ধতি এখন নেই। UPI লিংক ব্যবহার করুন।",
        "ar": "عذراً، طريقة الدفع هذه غير متاحة الآن. جرب رابط UPI.",
    },
    "method_bkash": {"en": "bKash", "hi": "bKash", "bn": "বিকাশ", "ar": "bKash"},
    "method_nagad": {"en": "Nagad", "hi": "Nagad", "bn": "নগদ", "ar": "Nagad"},
    "method_rocket": {"en": "Rocket", "hi": "Rocket", "bn": "রকেট", "ar": "Rocket"},
    "method_upi_transfer": {"en": "UPI", "hi": "UPI", "bn": "UPI", "ar": "UPI"},
    "method_bank_transfer": {"en": "Bank transfer", "hi": "बैंक ट्रांसफ़र",
                             "bn": "ব্যাংক ট্রান্সফার", "ar": "تحويل بنكي"},
    "wallet_personal": {"en": "Send Money", "hi": "Send Money", "bn": "সেন্ড মানি",
                        "ar": "Send Money"},
    "wallet_merchant": {"en": "Payment", "hi": "Payment", "bn": "পেমেন্ট", "ar": "Payment"},
    "wallet_agent": {"en": "Cash Out", "hi": "Cash Out", "bn": "ক্যাশ আউট", "ar": "Cash Out"},
    "transfer_wallet": {
        "en": "To pay for *{order}*, send *{amount}* by {wallet} ({how}) to *{number}* ({name}), with reference *{order}*.\nThen reply here with the transaction ID (TrxID) from {wallet}'s message. We'll tell you as soon as the shop sees the money.",
        "hi": "*{order}* के भुगतान के लिए {wallet} ({how}) से *{number}* ({name}) पर *{amount}* भेजें, रेफ़रेंस में *{order}* लिखें।\nफिर {wallet} के मैसेज से ट्रांज़ैक्शन आईडी (TrxID) यहाँ भेजें। दुकान को पैसे मिलते ही हम आपको बताएँगे।",
        "bn": "*{order}*-এর দাম দিতে {wallet} ({how}) দিয়ে *{number}* ({name}) নম্বরে *{amount}* পাঠান, রেফারেন্সে লিখুন *{order}*।\nতারপর {wallet}-এর মেসেজ থেকে ট্রানজেকশন আইডি (TrxID) এখানে পাঠান। দোকান টাকা পেলেই আমরা জানাব।",
        "ar": "لدفع *{order}* أرسل *{amount}* عبر {wallet} ({how}) إلى *{number}* ({name})، واكتب المرجع *{order}*.\nثم أرسل هنا رقم المعاملة (TrxID) من رسالة {wallet}. سنخبرك فور وصول المبلغ إلى المحل.",
    },
    "transfer_upi": {
        "en": "To pay for *{order}*, send *{amount}* from any UPI app to *{number}* ({name}), with *{order}* in the note.\nThen reply here with the 12-digit UPI reference (UTR). We'll tell you as soon as the shop sees the money.",
        "hi": "*{order}* के भुगतान के लिए किसी भी UPI ऐप से *{number}* ({name}) पर *{amount}* भेजें, नोट में *{order}* लिखें।\nफिर 12 अंकों का UPI रेफ़रेंस (UTR) यहाँ भेजें। दुकान को पैसे मिलते ही हम आपको बताएँगे।",
        "bn": "*{order}*-এর দাম দিতে যেকোনো UPI অ্যাপ থেকে *{number}* ({name})-এ *{amount}* পাঠান, নোটে লিখুন *{order}*।\nতারপর ১২ অঙ্কের UPI রেফারেন্স (UTR) এখানে পাঠান। দোকান টাকা পেলেই আমরা জানাব।",
        "ar": "لدفع *{order}* أرسل *{amount}* من أي تطبيق UPI إلى *{number}* ({name})، واكتب *{order}* في الملاحظة.\nثم أرسل هنا مرجع UPI المكوّن من 12 رقماً (UTR). سنخبرك فور وصول المبلغ إلى المحل.",
    },
    "transfer_bank": {
        "en": "To pay for *{order}*, transfer *{amount}* to {name}, account *{number}*, {bank} ({code}), with reference *{order}*.\nThen reply here with the transaction reference. We'll tell you as soon as the shop sees the money.",
        "hi": "*{order}* के भुगतान के लिए {name} के खाते *{number}*, {bank} ({code}) में *{amount}* ट्रांसफ़र करें, रेफ़रेंस में *{order}* लिखें।\nफिर ट्रांज़ैक्शन रेफ़रेंस यहाँ भेजें। दुकान को पैसे मिलते ही हम आपको बताएँगे।",
        "bn": "*{order}*-এর দাম দিতে {name}-এর অ্যাকাউন্ট *{number}*, {bank} ({code})-এ *{amount}* ট্রান্সফার করুন, রেফারেন্সে লিখুন *{order}*।\nতারপর ট্রানজেকশন রেফারেন্স এখানে পাঠান। দোকান টাকা পেলেই আমরা জানাব।",
        "ar": "لدفع *{order}* حوّل *{amount}* إلى {name}، الحساب *{number}*، {bank} ({code})، والمرجع *{order}*.\nثم أرسل هنا مرجع المعاملة. سنخبرك فور وصول المبلغ إلى المحل.",
    },
    "transfer_reminder": {
        "en": "⏰ *{order}* is still waiting for {amount} by {wallet} to *{number}*. If you've sent it, reply with the transaction ID; otherwise the order is cancelled in {minutes} minutes.",
        "hi": "⏰ *{order}* के लिए {wallet} से *{number}* पर {amount} का इंतज़ार है। भेज दिया हो तो ट्रांज़ैक्शन आईडी भेजें; नहीं तो ऑर्डर {minutes} मिनट में रद्द हो जाएगा।",
        "bn": "⏰ *{order}*-এর জন্য {wallet}-এ *{number}* নম্বরে {amount} এখনও আসেনি। পাঠিয়ে থাকলে ট্রানজেকশন আইডি পাঠান; না হলে {minutes} মিনিটে অর্ডার বাতিল হবে।",
        "ar": "⏰ ما زال *{order}* بانتظار {amount} عبر {wallet} إلى *{number}*. إن أرسلته فأرسل رقم المعاملة، وإلا يُلغى الطلب خلال {minutes} دقيقة.",
    },
    "transfer_id_noted": {
        "en": "Thank you! Transaction *{trx}* is noted for *{order}*. The shop will check it and confirm; we'll tell you here as soon as they do.",
        "hi": "धन्यवाद! *{order}* के लिए ट्रांज़ैक्शन *{trx}* दर्ज कर लिया है। दुकान इसे जाँचकर पुष्टि करेगी; पुष्टि होते ही हम यहाँ बताएँगे।",
        "bn": "ধন্যবাদ! *{order}*-এর জন্য ট্রানজেকশন *{trx}* লিখে রাখলাম। দোকান দেখে নিশ্চিত করবে; নিশ্চিত হলেই এখানে জানাব।",
        "ar": "شكراً! سجّلنا المعاملة *{trx}* للطلب *{order}*. سيتحقق المحل منها ويؤكدها، وسنخبرك هنا فور التأكيد.",
    },
    "transfer_id_again": {
        "en": "Transaction *{trx}* is already noted for *{order}*. The shop will confirm it soon.",
        "hi": "ट्रांज़ैक्शन *{trx}* पहले से *{order}* के लिए दर्ज है। दुकान जल्द पुष्टि करेगी।",
        "bn": "ট্রানজেকশন *{trx}* আগেই *{order}*-এর জন্য লেখা আছে। দোকান শিগগির নিশ্চিত করবে।",
        "ar": "المعاملة *{trx}* مسجّلة بالفعل للطلب *{order}*. سيؤكدها المحل قريباً.",
    },
    "transfer_id_unclear": {
        "en": "I couldn't find one transaction ID in that. Please send just the ID from the {wallet} message, like *{example}*.",
        "hi": "इसमें एक ट्रांज़ैक्शन आईडी नहीं मिली। कृपया {wallet} के मैसेज से सिर्फ़ आईडी भेजें, जैसे *{example}*।",
        "bn": "এতে একটি ট্রানজেকশন আইডি পেলাম না। {wallet}-এর মেসেজ থেকে শুধু আইডিটি পাঠান, যেমন *{example}*।",
        "ar": "لم أجد رقم معاملة واحداً في رسالتك. أرسل الرقم فقط من رسالة {wallet}، مثل *{example}*.",
    },
    "no_pending_order": {
        "en": "You have no order waiting for payment. Type *menu* to order.",
        "hi": "भुगतान के लिए कोई ऑर्डर बाकी नहीं है। ऑर्डर के लिए *menu* लिखें।",
        "bn": "পেমেন্টের জন্য কোনো অর্ডার বাকি নেই। অর্ডার দিতে *menu* লিখুন।",
        "ar": "ليس لديك طلب بانتظار الدفع. اكتب *menu* للطلب.",
    },
    "paid_receipt": {
        "en": "✅ Payment of {amount} received for *{order}*. Thank you! We're preparing your order.",
        "hi": "✅ *{order}* के लिए {amount} का भुगतान मिल गया। धन्यवाद! आपका ऑर्डर तैयार हो रहा है।",
        "bn": "✅ *{order}*-এর {amount} পেমেন্ট পেয়েছি। ধন্যবাদ! আপনার অর্ডার তৈরি হচ্ছে।",
        "ar": "✅ تم استلام {amount} للطلب *{order}*. شكراً! نحضّر طلبك الآن.",
    },
    "receipt_line": {
        "en": "🧾 Receipt: {link}",
        "hi": "🧾 रसीद: {link}",
        "bn": "🧾 রসিদ: {link}",
        "ar": "🧾 الإيصال: {link}",
    },
    "partial_receipt": {
        "en": "We received {amount} for *{order}*; {left} is still due. Use the same link to pay the rest.",
        "hi": "*{order}* के लिए {amount} मिले; {left} बाकी है। बाकी के लिए वही लिंक इस्तेमाल करें।",
        "bn": "*{order}*-এর জন্য {amount} পেয়েছি; {left} বাকি। বাকিটা একই লিংকে দিন।",
        "ar": "استلمنا {amount} للطلب *{order}*؛ المتبقي {left}. استخدم الرابط نفسه لدفع الباقي.",
    },
    "payment_failed": {
        "en": "❌ The payment for *{order}* didn't go through. You can try again with the same link, or type *pay*.",
        "hi": "❌ *{order}* का भुगतान नहीं हो पाया। उसी लिंक से फिर कोशिश करें, या *pay* लिखें।",
        "bn": "❌ *{order}*-এর পেমেন্ট হয়নি। একই লিংকে আবার চেষ্টা করুন, বা *pay* লিখুন।",
        "ar": "❌ لم يتم دفع *{order}*. حاول مرة أخرى بالرابط نفسه، أو اكتب *pay*.",
    },
    "payment_expired": {
        "en": "⌛ The payment link for *{order}* expired, so the order was cancelled. Type *same again* to order it again.",
        "hi": "⌛ *{order}* का पेमेंट लिंक समाप्त हो गया, इसलिए ऑर्डर रद्द हो गया। दोबारा मँगाने के लिए *same again* लिखें।",
        "bn": "⌛ *{order}*-এর পেমেন্ট লিংকের মেয়াদ শেষ, তাই অর্ডার বাতিল হয়েছে। আবার নিতে *same again* লিখুন।",
        "ar": "⌛ انتهت صلاحية رابط الدفع للطلب *{order}* فأُلغي الطلب. اكتب *same again* لطلبه مجدداً.",
    },
    "late_payment": {
        "en": "We received {amount} for *{order}* after it had closed. The shop has been told and will refund you.",
        "hi": "*{order}* बंद होने के बाद {amount} मिले। दुकान को बता दिया गया है, आपको पैसे वापस मिलेंगे।",
        "bn": "*{order}* বন্ধ হওয়ার পরে {amount} পেয়েছি। দোকানকে জানানো হয়েছে, টাকা ফেরত পাবেন।",
        "ar": "استلمنا {amount} للطلب *{order}* بعد إغلاقه. تم إبلاغ المحل وسيعيد المبلغ إليك.",
    },
    "overpaid": {
        "en": "We received {amount} more than *{order}* costs (it was paid twice). The shop has been told and it will go back to you.",
        "hi": "*{order}* की कीमत से {amount} ज़्यादा मिले (दो बार भुगतान हुआ)। दुकान को बता दिया गया है, यह आपको वापस मिलेगा।",
        "bn": "*{order}*-এর দামের চেয়ে {amount} বেশি পেয়েছি (দু'বার পেমেন্ট হয়েছে)। দোকানকে জানানো হয়েছে, এটি আপনাকে ফেরত দেওয়া হবে।",
        "ar": "استلمنا {amount} أكثر من ثمن الطلب *{order}* (دُفع مرتين). تم إبلاغ المحل وسيُعاد إليك.",
    },
    "refund_started": {
        "en": "↩️ A refund of {amount} for *{order}* has been accepted by the payment provider. It can take a few days to reach you.",
        "hi": "↩️ *{order}* के {amount} का रिफ़ंड पेमेंट प्रदाता ने स्वीकार कर लिया है। आप तक पहुँचने में कुछ दिन लग सकते हैं।",
        "bn": "↩️ *{order}*-এর {amount} রিফান্ড পেমেন্ট প্রদানকারী গ্রহণ করেছে। আপনার কাছে পৌঁছাতে কয়েক দিন লাগতে পারে।",
        "ar": "↩️ قبل مزوّد الدفع استرداد {amount} للطلب *{order}*. قد يستغرق وصوله إليك بضعة أيام.",
    },
    "prices_changed": {
        "en": "Something changed since you saw your order (a price, or what is in stock). Please check it again:",
        "hi": "आपके देखने के बाद कुछ बदल गया है (कीमत या स्टॉक)। कृपया ऑर्डर फिर से जाँच लें:",
        "bn": "আপনি দেখার পর কিছু বদলেছে (দাম বা স্টক)। অনুগ্রহ করে অর্ডারটি আবার দেখে নিন:",
        "ar": "تغيّر شيء منذ أن رأيت طلبك (سعر أو المتوفر). يرجى مراجعته مجدداً:",
    },
    "refund_manual": {
        "en": "↩️ The shop says it has refunded {amount} for *{order}* to you by UPI (reference {reference}). If it hasn't reached you in a few days, reply here.",
        "hi": "↩️ दुकान का कहना है कि उसने *{order}* के {amount} आपको UPI से वापस कर दिए हैं (रेफ़रेंस {reference})। अगर कुछ दिनों में न मिलें तो यहाँ लिखें।",
        "bn": "↩️ দোকান জানিয়েছে যে *{order}*-এর {amount} আপনাকে UPI-তে ফেরত দিয়েছে (রেফারেন্স {reference})। কয়েক দিনের মধ্যে না পেলে এখানে লিখুন।",
        "ar": "↩️ يقول المحل إنه أعاد إليك {amount} للطلب *{order}* عبر UPI (المرجع {reference}). إن لم يصلك خلال أيام قليلة فاكتب هنا.",
    },
    "refund_receipt": {
        "en": "↩️ {amount} for *{order}* has been refunded to you.",
        "hi": "↩️ *{order}* के {amount} आपको वापस कर दिए गए हैं।",
        "bn": "↩️ *{order}*-এর {amount} আপনাকে ফেরত দেওয়া হয়েছে।",
        "ar": "↩️ تمت إعادة {amount} للطلب *{order}* إليك.",
    },
    "tip_thanks": {
        "en": "🙏 Thank you for the {amount} tip!",
        "hi": "🙏 {amount} की टिप के लिए धन्यवाद!",
        "bn": "🙏 {amount} টিপের জন্য ধন্যবাদ!",
        "ar": "🙏 شكراً على البقشيش {amount}!",
    },
    "tip_prompt": {
        "en": "Thank you! Pay your {amount} tip here: {link}",
        "hi": "धन्यवाद! अपनी {amount} की टिप यहाँ दें: {link}",
        "bn": "ধন্যবাদ! আপনার {amount} টিপ এখানে দিন: {link}",
        "ar": "شكراً! ادفع البقشيش {amount} هنا: {link}",
    },
    "tip_how": {
        "en": "To tip, type e.g. *tip 50*.",
        "hi": "टिप देने के लिए लिखें, जैसे *tip 50*।",
        "bn": "টিপ দিতে লিখুন, যেমন *tip 50*।",
        "ar": "للبقشيش اكتب مثلاً *tip 50*.",
    },
    "tips_off": {
        "en": "Thank you, but this shop doesn't take tips. 😊",
        "hi": "धन्यवाद, पर यह दुकान टिप नहीं लेती। 😊",
        "bn": "ধন্যবাদ, তবে এই দোকান টিপ নেয় না। 😊",
        "ar": "شكراً، لكن هذا المحل لا يقبل البقشيش. 😊",
    },
    "order_status_line": {
        "en": "*{order}* — {status} — {total}",
        "hi": "*{order}* — {status} — {total}",
        "bn": "*{order}* — {status} — {total}",
        "ar": "*{order}* — {status} — {total}",
    },
    "no_orders": {
        "en": "You haven't ordered yet. Type *menu* to start.",
        "hi": "आपने अभी तक कोई ऑर्डर नहीं दिया है। शुरू करने के लिए *menu* लिखें।",
        "bn": "আপনি এখনো কোনো অর্ডার দেননি। শুরু করতে *menu* লিখুন।",
        "ar": "لم تطلب بعد. اكتب *menu* للبدء.",
    },
    "status_pending_payment": {"en": "waiting for payment", "hi": "भुगतान बाकी",
                               "bn": "পেমেন্ট বাকি", "ar": "بانتظار الدفع"},
    "status_paid": {"en": "paid, being prepared", "hi": "भुगतान हो गया, तैयार हो रहा है",
                    "bn": "পেমেন্ট হয়েছে, তৈরি হচ্ছে", "ar": "مدفوع، قيد التحضير"},
    "status_partially_refunded": {"en": "paid, part refunded, being prepared",
                                  "hi": "भुगतान हो गया, कुछ पैसे वापस, तैयार हो रहा है",
                                  "bn": "পেমেন্ট হয়েছে, কিছু টাকা ফেরত, তৈরি হচ্ছে",
                                  "ar": "مدفوع، واستُرد جزء منه، قيد التحضير"},
    "status_shipped": {"en": "on the way 🛵", "hi": "रास्ते में है 🛵", "bn": "পথে আছে 🛵",
                       "ar": "في الطريق 🛵"},
    "status_delivered": {"en": "delivered", "hi": "पहुँच गया", "bn": "পৌঁছে গেছে",
                         "ar": "تم التوصيل"},
    "status_cancelled": {"en": "cancelled", "hi": "रद्द", "bn": "বাতিল", "ar": "ملغي"},
    "status_refund_pending": {"en": "refund in progress", "hi": "रिफंड हो रहा है",
                              "bn": "ফেরত প্রক্রিয়াধীন", "ar": "الاسترداد قيد التنفيذ"},
    "status_refunded": {"en": "refunded", "hi": "पैसे वापस", "bn": "টাকা ফেরত",
                        "ar": "تم الاسترداد"},
    # ---- cash on delivery (bot/flows/cod.py) -----------------------------------------
    "cod_button": {"en": "Cash on delivery", "hi": "डिलीवरी पर नकद", "bn": "ক্যাশ অন ডেলিভারি",
                   "ar": "الدفع عند الاستلام"},
    "cod_confirm_button": {"en": "Confirm COD order", "hi": "COD पक्का करें",
                           "bn": "COD নিশ্চিত করুন", "ar": "تأكيد الطلب نقداً"},
    "cod_cancel_button": {"en": "Cancel order", "hi": "ऑर्डर रद्द करें", "bn": "অর্ডার বাতিল",
                          "ar": "إلغاء الطلب"},
    "cod_prepaid_button": {"en": "Pay now instead", "hi": "अभी भुगतान करें",
                           "bn": "এখনই অনলাইনে দিন", "ar": "ادفع الآن"},
    "order_placed_cod": {
        "en": "Order *{order}* placed: {total}, to pay in cash on delivery. Please confirm it within {minutes} minutes, or it will be cancelled.",
        "hi": "ऑर्डर *{order}* हो गया: {total}, डिलीवरी पर नकद भुगतान। कृपया {minutes} मिनट के अंदर पक्का करें, वरना यह रद्द हो जाएगा।",
        "bn": "অর্ডার *{order}* নেওয়া হয়েছে: {total}, ডেলিভারিতে নগদে দেবেন। দয়া করে {minutes} মিনিটের মধ্যে নিশ্চিত করুন, নইলে এটি বাতিল হবে।",
        "ar": "تم تسجيل الطلب *{order}*: {total}، الدفع نقداً عند الاستلام. يرجى تأكيده خلال {minutes} دقيقة، وإلا سيُلغى.",
    },
    "cod_confirmed": {
        "en": "✅ Thank you! *{order}* is confirmed. Please keep {total} in cash ready for the delivery. Nothing has been paid yet.",
        "hi": "✅ धन्यवाद! *{order}* पक्का हो गया। डिलीवरी के समय {total} नकद तैयार रखें। अभी तक कोई भुगतान नहीं हुआ है।",
        "bn": "✅ ধন্যবাদ! *{order}* নিশ্চিত হয়েছে। ডেলিভারির সময় {total} নগদ প্রস্তুত রাখুন। এখনো কোনো টাকা দেওয়া হয়নি।",
        "ar": "✅ شكراً! تم تأكيد *{order}*. يرجى تجهيز {total} نقداً عند التوصيل. لم يُدفع شيء بعد.",
    },
    "cod_prepaid_offer": {
        "en": "Prefer to pay now instead of cash? Tap below (until the order leaves the shop).",
        "hi": "नकद की जगह अभी भुगतान करना चाहते हैं? नीचे टैप करें (ऑर्डर दुकान से निकलने तक)।",
        "bn": "নগদের বদলে এখনই দিতে চান? নিচে চাপুন (অর্ডার দোকান থেকে বের হওয়া পর্যন্ত)।",
        "ar": "تفضّل الدفع الآن بدلاً من النقد؟ اضغط أدناه (حتى يغادر الطلب المحل).",
    },
    "cod_reminder": {
        "en": "⏰ Your order *{order}* ({total}, cash on delivery) is waiting for your confirmation. Tap *Confirm COD order*, or it will be cancelled in {minutes} minutes.",
        "hi": "⏰ आपका ऑर्डर *{order}* ({total}, डिलीवरी पर नकद) आपकी पुष्टि का इंतज़ार कर रहा है। *COD पक्का करें* दबाएँ, वरना {minutes} मिनट में रद्द हो जाएगा।",
        "bn": "⏰ আপনার অর্ডার *{order}* ({total}, ক্যাশ অন ডেলিভারি) আপনার নিশ্চিতকরণের অপেক্ষায়। *COD নিশ্চিত করুন* চাপুন, নইলে {minutes} মিনিটে বাতিল হবে।",
        "ar": "⏰ طلبك *{order}* ({total}، الدفع عند الاستلام) بانتظار تأكيدك. اضغط *تأكيد الطلب نقداً*، وإلا سيُلغى خلال {minutes} دقيقة.",
    },
    "cod_auto_cancelled": {
        "en": "Your order *{order}* was cancelled because it was not confirmed in time. You can order again any time.",
        "hi": "आपका ऑर्डर *{order}* समय पर पक्का न होने से रद्द हो गया। आप कभी भी फिर से ऑर्डर कर सकते हैं।",
        "bn": "আপনার অর্ডার *{order}* সময়মতো নিশ্চিত না হওয়ায় বাতিল হয়েছে। যেকোনো সময় আবার অর্ডার দিতে পারেন।",
        "ar": "أُلغي طلبك *{order}* لأنه لم يُؤكَّد في الوقت المحدد. يمكنك الطلب مجدداً في أي وقت.",
    },
    "cod_cash_received": {
        "en": "📦 *{order}* delivered, and {amount} received in cash. Thank you!",
        "hi": "📦 *{order}* पहुँच गया, और {amount} नकद मिल गए। धन्यवाद!",
        "bn": "📦 *{order}* পৌঁছে গেছে, আর {amount} নগদ পাওয়া গেছে। ধন্যবাদ!",
        "ar": "📦 تم توصيل *{order}* واستلام {amount} نقداً. شكراً!",
    },
    "cod_unavailable": {
        "en": "Cash on delivery isn't available for this order, so please pay online.",
        "hi": "इस ऑर्डर पर डिलीवरी पर नकद उपलब्ध नहीं है, कृपया ऑनलाइन भुगतान करें।",
        "bn": "এই অর্ডারে ক্যাশ অন ডেলিভারি নেই, দয়া করে অনলাইনে দিন।",
        "ar": "الدفع عند الاستلام غير متاح لهذا الطلب، لذا يرجى الدفع عبر الإنترنت.",
    },
    "cod_unavailable_only": {
        "en": "Sorry, cash on delivery isn't available for this order (the amount or the delivery area), and the shop takes no other payment here. Nothing was ordered.",
        "hi": "माफ़ कीजिए, इस ऑर्डर पर डिलीवरी पर नकद उपलब्ध नहीं है (राशि या डिलीवरी क्षेत्र), और दुकान यहाँ कोई दूसरा भुगतान नहीं लेती। कोई ऑर्डर नहीं हुआ।",
        "bn": "দুঃখিত, এই অর্ডারে ক্যাশ অন ডেলিভারি নেই (টাকার পরিমাণ বা ডেলিভারি এলাকা), আর দোকান এখানে অন্য কোনো পেমেন্ট নেয় না। কোনো অর্ডার হয়নি।",
        "ar": "عذراً، الدفع عند الاستلام غير متاح لهذا الطلب (المبلغ أو منطقة التوصيل)، ولا يقبل المحل هنا طريقة دفع أخرى. لم يُسجَّل أي طلب.",
    },
    "cod_cannot_cancel_shipped": {
        "en": "*{order}* has already left the shop. Nothing has been paid: you can refuse it at the door, and I've told the shop.",
        "hi": "*{order}* दुकान से निकल चुका है। अभी कोई भुगतान नहीं हुआ है: आप दरवाज़े पर मना कर सकते हैं, और मैंने दुकान को बता दिया है।",
        "bn": "*{order}* দোকান থেকে বেরিয়ে গেছে। এখনো কোনো টাকা দেওয়া হয়নি: দরজায় নিতে না চাইলে ফেরত দিতে পারেন, দোকানকে জানিয়েছি।",
        "ar": "غادر *{order}* المحل بالفعل. لم يُدفع شيء: يمكنك رفضه عند الباب، وقد أبلغت المحل.",
    },
    "cod_returned": {
        "en": "Your order *{order}* came back to the shop undelivered, so it is cancelled. Nothing was charged.",
        "hi": "आपका ऑर्डर *{order}* बिना डिलीवरी के दुकान पर लौट आया, इसलिए रद्द है। कोई पैसा नहीं लिया गया।",
        "bn": "আপনার অর্ডার *{order}* ডেলিভারি ছাড়াই দোকানে ফিরে এসেছে, তাই বাতিল। কোনো টাকা নেওয়া হয়নি।",
        "ar": "عاد طلبك *{order}* إلى المحل دون توصيل، لذا أُلغي. لم يُحصَّل أي مبلغ.",
    },
    "status_awaiting_confirmation": {"en": "cash on delivery, waiting for your confirmation",
                                     "hi": "डिलीवरी पर नकद, आपकी पुष्टि बाकी",
                                     "bn": "ক্যাশ অন ডেলিভারি, আপনার নিশ্চিতকরণ বাকি",
                                     "ar": "الدفع عند الاستلام، بانتظار تأكيدك"},
    "status_confirmed": {"en": "confirmed, cash on delivery, being prepared",
                         "hi": "पक्का, डिलीवरी पर नकद, तैयार हो रहा है",
                         "bn": "নিশ্চিত, ক্যাশ অন ডেলিভারি, তৈরি হচ্ছে",
                         "ar": "مؤكَّد، الدفع عند الاستلام، قيد التحضير"},
    "status_returned": {"en": "returned to the shop, cancelled", "hi": "दुकान पर लौटा, रद्द",
                        "bn": "দোকানে ফেরত, বাতিল", "ar": "أُعيد إلى المحل، ملغي"},
    "order_cancelled": {
        "en": "Order *{order}* is cancelled.",
        "hi": "ऑर्डर *{order}* रद्द कर दिया गया।",
        "bn": "অর্ডার *{order}* বাতিল করা হয়েছে।",
        "ar": "تم إلغاء الطلب *{order}*.",
    },
    "cannot_cancel_paid": {
        "en": "*{order}* is already paid, so I can't cancel it here. I've asked the shop to help you.",
        "hi": "*{order}* का भुगतान हो चुका है, इसलिए यहाँ रद्द नहीं हो सकता। मैंने दुकान से आपकी मदद करने को कहा है।",
        "bn": "*{order}*-এর পেমেন্ট হয়ে গেছে, তাই এখানে বাতিল করা যাবে না। দোকানকে সাহায্য করতে বলেছি।",
        "ar": "تم دفع *{order}* بالفعل، لذا لا يمكنني إلغاؤه هنا. طلبت من المحل مساعدتك.",
    },
    "nothing_to_cancel": {
        "en": "There's no open order to cancel.",
        "hi": "रद्द करने के लिए कोई खुला ऑर्डर नहीं है।",
        "bn": "বাতিল করার মতো কোনো অর্ডার নেই।",
        "ar": "لا يوجد طلب مفتوح لإلغائه.",
    },
    "reordered": {
        "en": "I've put your last order (*{order}*) back in your cart.",
        "hi": "आपका पिछला ऑर्डर (*{order}*) फिर से टोकरी में डाल दिया है।",
        "bn": "আপনার আগের অর্ডার (*{order}*) আবার কার্টে রাখলাম।",
        "ar": "أعدت طلبك السابق (*{order}*) إلى سلتك.",
    },
    "order_shipped": {
        "en": "🛵 Your order *{order}* is on the way!",
        "hi": "🛵 आपका ऑर्डर *{order}* रास्ते में है!",
        "bn": "🛵 আপনার অর্ডার *{order}* পথে!",
        "ar": "🛵 طلبك *{order}* في الطريق!",
    },
    "order_delivered": {
        "en": "📦 *{order}* delivered. Enjoy! Type *tip 20* to thank the rider.",
        "hi": "📦 *{order}* पहुँच गया। आनंद लें! डिलीवरी वाले को धन्यवाद देने के लिए *tip 20* लिखें।",
        "bn": "📦 *{order}* পৌঁছে গেছে। উপভোগ করুন! রাইডারকে ধন্যবাদ দিতে *tip 20* লিখুন।",
        "ar": "📦 تم توصيل *{order}*. بالهناء! اكتب *tip 20* لشكر السائق.",
    },
    "order_cancelled_by_shop": {
        "en": "The shop cancelled *{order}*. Sorry! Any money paid will be refunded.",
        "hi": "दुकान ने *{order}* रद्द कर दिया। माफ़ कीजिए! भुगतान किया गया पैसा वापस होगा।",
        "bn": "দোকান *{order}* বাতিল করেছে। দুঃখিত! দেওয়া টাকা ফেরত দেওয়া হবে।",
        "ar": "ألغى المحل *{order}*. نعتذر! سيُعاد أي مبلغ مدفوع.",
    },
    "handoff_started": {
        "en": "I've asked someone from the shop to reply to you here. 🙋",
        "hi": "मैंने दुकान से किसी को यहाँ आपको जवाब देने को कहा है। 🙋",
        "bn": "দোকানের কাউকে এখানে আপনাকে উত্তর দিতে বলেছি। 🙋",
        "ar": "طلبت من أحد موظفي المحل الرد عليك هنا. 🙋",
    },
    "handoff_resumed": {
        "en": "I'm back! Type *menu* to order or *cart* to see your cart.",
        "hi": "मैं वापस आ गया! ऑर्डर के लिए *menu* या टोकरी के लिए *cart* लिखें।",
        "bn": "আমি ফিরে এসেছি! অর্ডার দিতে *menu* বা কার্ট দেখতে *cart* লিখুন।",
        "ar": "عدت! اكتب *menu* للطلب أو *cart* لرؤية سلتك.",
    },
    "consent_stopped": {
        "en": "Done: {shop} will send you no more offers or reminders. Messages about your own orders still come. Type *START* to get offers again.",
        "hi": "हो गया: {shop} अब आपको ऑफ़र या रिमाइंडर नहीं भेजेगा। आपके अपने ऑर्डर के संदेश आते रहेंगे। ऑफ़र फिर से पाने के लिए *START* लिखें।",
        "bn": "হয়ে গেছে: {shop} আপনাকে আর অফার বা রিমাইন্ডার পাঠাবে না। আপনার নিজের অর্ডারের বার্তা আসতে থাকবে। আবার অফার পেতে *START* লিখুন।",
        "ar": "تم: لن يرسل لك {shop} عروضاً أو تذكيرات بعد الآن. ستصلك رسائل طلباتك كالمعتاد. اكتب *START* لتلقي العروض من جديد.",
    },
    "consent_started": {
        "en": "You're in: {shop} may send you offers and reminders on WhatsApp. Type *STOP* any time to stop them.",
        "hi": "हो गया: {shop} आपको WhatsApp पर ऑफ़र और रिमाइंडर भेज सकता है। बंद करने के लिए कभी भी *STOP* लिखें।",
        "bn": "হয়ে গেছে: {shop} আপনাকে WhatsApp-এ অফার ও রিমাইন্ডার পাঠাতে পারবে। বন্ধ করতে যেকোনো সময় *STOP* লিখুন।",
        "ar": "تم: يمكن لـ {shop} أن يرسل لك العروض والتذكيرات على واتساب. اكتب *STOP* في أي وقت لإيقافها.",
    },
    "consent_declined": {
        "en": "No problem: {shop} will send you no offers. Messages about your own orders still come. Type *START* if you change your mind.",
        "hi": "कोई बात नहीं: {shop} आपको ऑफ़र नहीं भेजेगा। आपके अपने ऑर्डर के संदेश आते रहेंगे। मन बदले तो *START* लिखें।",
        "bn": "ঠিক আছে: {shop} আপনাকে কোনো অফার পাঠাবে না। আপনার নিজের অর্ডারের বার্তা আসতে থাকবে। মত বদলালে *START* লিখুন।",
        "ar": "لا بأس: لن يرسل لك {shop} أي عروض. ستصلك رسائل طلباتك كالمعتاد. اكتب *START* إن غيّرت رأيك.",
    },
    "consent_ask": {
        "en": "May {shop} send you offers and reminders on WhatsApp? You can type *STOP* any time.",
        "hi": "क्या {shop} आपको WhatsApp पर ऑफ़र और रिमाइंडर भेज सकता है? आप कभी भी *STOP* लिख सकते हैं।",
        "bn": "{shop} কি আপনাকে WhatsApp-এ অফার ও রিমাইন্ডার পাঠাতে পারে? যেকোনো সময় *STOP* লিখতে পারেন।",
        "ar": "هل يمكن لـ {shop} أن يرسل لك العروض والتذكيرات على واتساب؟ يمكنك كتابة *STOP* في أي وقت.",
    },
    "consent_yes": {"en": "Yes, send offers", "hi": "हाँ, ऑफ़र भेजें", "bn": "হ্যাঁ, অফার পাঠান",
                    "ar": "نعم، أرسلوا العروض"},
    "consent_no": {"en": "No thanks", "hi": "नहीं, धन्यवाद", "bn": "না, ধন্যবাদ",
                   "ar": "لا، شكراً"},
    "cart_reminder": {
        "en": "You left {items} in your cart 🛒. Type *checkout* to order.",
        "hi": "आपकी टोकरी में {items} रखे हैं 🛒। ऑर्डर के लिए *checkout* लिखें।",
        "bn": "আপনার কার্টে {items} রয়ে গেছে 🛒। অর্ডার দিতে *checkout* লিখুন।",
        "ar": "تركت {items} في سلتك 🛒. اكتب *checkout* للطلب.",
    },
    "payment_reminder": {
        "en": "⏰ The payment link for *{order}* expires in {minutes} minutes: {link}",
        "hi": "⏰ *{order}* का पेमेंट लिंक {minutes} मिनट में समाप्त होगा: {link}",
        "bn": "⏰ *{order}*-এর পেমেন্ট লিংক {minutes} মিনিটে শেষ হবে: {link}",
        "ar": "⏰ تنتهي صلاحية رابط الدفع للطلب *{order}* خلال {minutes} دقيقة: {link}",
    },
    # ---- the pay page (/pay/{token}, webhooks/pages/pay.html), in the order's language ----
    "pay_page_title": {
        "en": "Pay {amount} · {shop}",
        "hi": "{amount} का भुगतान · {shop}",
        "bn": "{amount} পেমেন্ট · {shop}",
        "ar": "ادفع {amount} · {shop}",
    },
    "pay_page_order": {
        "en": "Order {order}",
        "hi": "ऑर्डर {order}",
        "bn": "অর্ডার {order}",
        "ar": "الطلب {order}",
    },
    "pay_page_delivery": {"en": "Delivery", "hi": "डिलीवरी", "bn": "ডেলিভারি", "ar": "التوصيل"},
    "pay_page_tip": {"en": "Tip", "hi": "टिप", "bn": "টিপ", "ar": "إكرامية"},
    "pay_page_total": {"en": "Total", "hi": "कुल", "bn": "মোট", "ar": "الإجمالي"},
    "pay_page_test_banner_qr": {
        "en": "TEST PAYMENT (sandbox): no real money moves. Do not pay this QR from a real account.",
        "hi": "टेस्ट भुगतान (सैंडबॉक्स): असली पैसा नहीं जाता। इस QR को किसी असली खाते से न भरें।",
        "bn": "টেস্ট পেমেন্ট (স্যান্ডবক্স): আসল টাকা যায় না। এই QR আসল অ্যাকাউন্ট থেকে পরিশোধ করবেন না।",
        "ar": "دفعة تجريبية (بيئة اختبار): لا تنتقل أموال حقيقية. لا تدفع رمز QR هذا من حساب حقيقي.",
    },
    "pay_page_test_banner": {
        "en": "TEST PAYMENT (sandbox): no real money moves. Do not pay it from a real account.",
        "hi": "टेस्ट भुगतान (सैंडबॉक्स): असली पैसा नहीं जाता। इसे किसी असली खाते से न भरें।",
        "bn": "টেস্ট পেমেন্ট (স্যান্ডবক্স): আসল টাকা যায় না। এটি আসল অ্যাকাউন্ট থেকে পরিশোধ করবেন না।",
        "ar": "دفعة تجريبية (بيئة اختبار): لا تنتقل أموال حقيقية. لا تدفعها من حساب حقيقي.",
    },
    "pay_page_qr_alt": {
        "en": "UPI QR code for {amount}",
        "hi": "{amount} के लिए UPI QR कोड",
        "bn": "{amount}-এর UPI QR কোড",
        "ar": "رمز UPI QR لمبلغ {amount}",
    },
    "pay_page_qr_test": {
        "en": "TEST QR · pays nobody",
        "hi": "टेस्ट QR · किसी को भुगतान नहीं",
        "bn": "টেস্ট QR · কাউকে টাকা যায় না",
        "ar": "QR تجريبي · لا يدفع لأحد",
    },
    "pay_page_qr_test_alt": {
        "en": "TEST QR (sandbox, pays nobody)",
        "hi": "टेस्ट QR (सैंडबॉक्स, किसी को भुगतान नहीं)",
        "bn": "টেস্ট QR (স্যান্ডবক্স, কাউকে টাকা যায় না)",
        "ar": "QR تجريبي (بيئة اختبار، لا يدفع لأحد)",
    },
    "pay_page_upi_button": {
        "en": "Pay with UPI app",
        "hi": "UPI ऐप से भुगतान करें",
        "bn": "UPI অ্যাপে পেমেন্ট করুন",
        "ar": "ادفع بتطبيق UPI",
    },
    "pay_page_hint_upi": {
        "en": "Scan the QR with any UPI app (GPay, PhonePe, Paytm, BHIM), or tap the button on this phone.",
        "hi": "किसी भी UPI ऐप (GPay, PhonePe, Paytm, BHIM) से QR स्कैन करें, या इसी फ़ोन पर बटन दबाएँ।",
        "bn": "যেকোনো UPI অ্যাপ (GPay, PhonePe, Paytm, BHIM) দিয়ে QR স্ক্যান করুন, অথবা এই ফোনেই বোতামটি চাপুন।",
        "ar": "امسح رمز QR بأي تطبيق UPI (GPay وPhonePe وPaytm وBHIM)، أو اضغط الزر على هذا الهاتف.",
    },
    "pay_page_transfer_send": {
        "en": "Send {amount} by {method} to:",
        "hi": "{amount} {method} से यहाँ भेजें:",
        "bn": "{method} দিয়ে {amount} এখানে পাঠান:",
        "ar": "أرسل {amount} عبر {method} إلى:",
    },
    "pay_page_transfer_hint": {
        "en": "Put {order} as the reference, then reply in the WhatsApp chat with the transaction ID. The shop confirms when the money arrives.",
        "hi": "रेफ़रेंस में {order} लिखें, फिर WhatsApp चैट में ट्रांज़ैक्शन आईडी भेजें। पैसा पहुँचते ही दुकान पुष्टि करेगी।",
        "bn": "রেফারেন্সে {order} লিখুন, তারপর WhatsApp চ্যাটে ট্রানজেকশন আইডি পাঠান। টাকা পৌঁছালে দোকান নিশ্চিত করবে।",
        "ar": "اكتب {order} كمرجع، ثم أرسل رقم العملية في محادثة واتساب. يؤكد المتجر عند وصول المبلغ.",
    },
    "pay_page_hint_sandbox": {
        "en": "This is a test payment link: simulate the payment below.",
        "hi": "यह टेस्ट भुगतान लिंक है: नीचे भुगतान का अभ्यास करें।",
        "bn": "এটি টেস্ট পেমেন্ট লিংক: নিচে পেমেন্টটি সিমুলেট করুন।",
        "ar": "هذا رابط دفع تجريبي: حاكِ الدفع في الأسفل.",
    },
    "pay_page_hint_link": {
        "en": "Follow the payment link the shop sent you in the chat.",
        "hi": "दुकान ने चैट में जो भुगतान लिंक भेजा है, उसे खोलें।",
        "bn": "দোকান চ্যাটে যে পেমেন্ট লিংক পাঠিয়েছে, সেটি খুলুন।",
        "ar": "افتح رابط الدفع الذي أرسله المتجر في المحادثة.",
    },
    "pay_page_number": {"en": "Number", "hi": "नंबर", "bn": "নম্বর", "ar": "الرقم"},
    "pay_page_upi_id": {"en": "UPI ID", "hi": "UPI ID", "bn": "UPI আইডি", "ar": "معرّف UPI"},
    "pay_page_account": {"en": "Account", "hi": "खाता", "bn": "অ্যাকাউন্ট", "ar": "الحساب"},
    "pay_page_name": {"en": "Name", "hi": "नाम", "bn": "নাম", "ar": "الاسم"},
    "pay_page_bank": {"en": "Bank", "hi": "बैंक", "bn": "ব্যাংক", "ar": "البنك"},
    "pay_page_branch": {"en": "Branch", "hi": "शाखा", "bn": "শাখা", "ar": "الفرع"},
    "pay_page_ifsc": {"en": "IFSC", "hi": "IFSC", "bn": "IFSC", "ar": "IFSC"},
    "pay_page_routing": {"en": "Routing", "hi": "राउटिंग", "bn": "রাউটিং নম্বর", "ar": "رقم التوجيه"},
    "pay_page_swift": {"en": "SWIFT", "hi": "SWIFT", "bn": "SWIFT", "ar": "SWIFT"},
    "pay_page_status_issued": {
        "en": "Waiting for payment…",
        "hi": "भुगतान का इंतज़ार…",
        "bn": "পেমেন্টের অপেক্ষায়…",
        "ar": "في انتظار الدفع…",
    },
    "pay_page_status_partially_paid": {
        "en": "Part paid — waiting for the rest…",
        "hi": "कुछ भुगतान मिला — बाकी का इंतज़ार…",
        "bn": "আংশিক পেমেন্ট হয়েছে — বাকিটার অপেক্ষায়…",
        "ar": "دُفع جزء — في انتظار الباقي…",
    },
    "pay_page_status_paid": {
        "en": "✅ Paid — thank you!",
        "hi": "✅ भुगतान हो गया — धन्यवाद!",
        "bn": "✅ পেমেন্ট হয়েছে — ধন্যবাদ!",
        "ar": "✅ تم الدفع — شكراً!",
    },
    "pay_page_status_paid_after_close": {
        "en": "Payment received after expiry — the shop will refund you.",
        "hi": "समय खत्म होने के बाद भुगतान मिला — दुकान आपको पैसा लौटाएगी।",
        "bn": "মেয়াদ শেষে পেমেন্ট এসেছে — দোকান আপনাকে টাকা ফেরত দেবে।",
        "ar": "وصل الدفع بعد انتهاء المهلة — سيعيد المتجر المبلغ إليك.",
    },
    "pay_page_status_expired": {
        "en": "This payment link has expired.",
        "hi": "इस भुगतान लिंक का समय खत्म हो गया है।",
        "bn": "এই পেমেন্ট লিংকের মেয়াদ শেষ।",
        "ar": "انتهت صلاحية رابط الدفع هذا.",
    },
    "pay_page_status_cancelled": {
        "en": "This payment was cancelled.",
        "hi": "यह भुगतान रद्द कर दिया गया।",
        "bn": "এই পেমেন্ট বাতিল করা হয়েছে।",
        "ar": "أُلغي هذا الدفع.",
    },
    "pay_page_status_closed": {
        "en": "This order is already paid or closed — do not pay here.",
        "hi": "यह ऑर्डर पहले ही भुगतान हो चुका है या बंद है — यहाँ भुगतान न करें।",
        "bn": "এই অর্ডারের পেমেন্ট হয়ে গেছে বা এটি বন্ধ — এখানে পেমেন্ট করবেন না।",
        "ar": "هذا الطلب مدفوع أو مغلق بالفعل — لا تدفع هنا.",
    },
    "pay_page_status_partially_refunded": {
        "en": "✅ Paid (partly refunded)",
        "hi": "✅ भुगतान हो गया (कुछ पैसा लौटाया गया)",
        "bn": "✅ পেমেন্ট হয়েছে (আংশিক ফেরত)",
        "ar": "✅ تم الدفع (مع استرداد جزئي)",
    },
    "pay_page_status_refunded": {
        "en": "Refunded",
        "hi": "पैसा लौटा दिया गया",
        "bn": "টাকা ফেরত দেওয়া হয়েছে",
        "ar": "تم الاسترداد",
    },
    "pay_page_expires_in": {
        "en": "Expires in {time}",
        "hi": "{time} में समय खत्म",
        "bn": "{time} পরে মেয়াদ শেষ",
        "ar": "ينتهي خلال {time}",
    },
    "pay_page_sandbox_note": {
        "en": "Sandbox mode — no real money moves. Simulating a payment needs the sandbox secret.",
        "hi": "सैंडबॉक्स मोड — असली पैसा नहीं जाता। भुगतान का अभ्यास करने के लिए सैंडबॉक्स सीक्रेट चाहिए।",
        "bn": "স্যান্ডবক্স মোড — আসল টাকা যায় না। পেমেন্ট সিমুলেট করতে স্যান্ডবক্স সিক্রেট লাগবে।",
        "ar": "وضع الاختبار — لا تنتقل أموال حقيقية. محاكاة الدفع تتطلب كلمة سر بيئة الاختبار.",
    },
    "pay_page_sandbox_secret": {
        "en": "Sandbox secret",
        "hi": "सैंडबॉक्स सीक्रेट",
        "bn": "স্যান্ডবক্স সিক্রেট",
        "ar": "كلمة سر بيئة الاختبار",
    },
    "pay_page_simulate_success": {
        "en": "Simulate success",
        "hi": "सफल भुगतान का अभ्यास",
        "bn": "সফল পেমেন্ট সিমুলেট করুন",
        "ar": "محاكاة النجاح",
    },
    "pay_page_simulate_failure": {
        "en": "Simulate failure",
        "hi": "विफल भुगतान का अभ्यास",
        "bn": "ব্যর্থ পেমেন্ট সিমুলেট করুন",
        "ar": "محاكاة الفشل",
    },
    "pay_page_sandbox_enter": {
        "en": "Enter the sandbox secret first.",
        "hi": "पहले सैंडबॉक्स सीक्रेट डालें।",
        "bn": "আগে স্যান্ডবক্স সিক্রেট দিন।",
        "ar": "أدخل كلمة سر بيئة الاختبار أولاً.",
    },
    "pay_page_sandbox_wrong": {
        "en": "Wrong sandbox secret.",
        "hi": "सैंडबॉक्स सीक्रेट गलत है।",
        "bn": "স্যান্ডবক্স সিক্রেট ভুল।",
        "ar": "كلمة سر بيئة الاختبار غير صحيحة.",
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


_BENGALI_DIGITS = str.maketrans("0123456789", "০১২৩৪৫৬৭৮৯")


def local_digits(text: str, language: str) -> str:
    """Numbers as the built-in replies write them: Bengali digits in Bengali."""
    return text.translate(_BENGALI_DIGITS) if language == "bn" else text


def transfer_amount(amount: Money, language: str) -> str:
    """An amount the shopper types into their wallet or bank app: whole units without
    ``.00`` (``৳520``, ``₹30``), in the reply's digits (``৳৫২০`` in Bengali)."""
    text = amount.format()
    if amount.minor % (10 ** exponent(amount.currency)) == 0 and "." in text:
        text = text.rsplit(".", 1)[0]
    return local_digits(text, language)


def shop_name(shop: Shop, language: str) -> str:
    return shop.name.get(language, shop.default_language)
