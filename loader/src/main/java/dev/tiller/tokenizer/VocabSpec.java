package dev.tiller.tokenizer;

import java.util.ArrayList;
import java.util.List;

/**
 * Everything a loader read about a vocabulary, before llama.cpp's auto-detection rules are applied by
 * {@link Vocabulary#build}. Ids are -1 when absent; {@code null} booleans mean "use the model type's default".
 */
final class VocabSpec {
    String source = "<vocab>";
    VocabModel model;
    String modelName = "";
    String[] texts;
    float[] scores;
    int[] attrs;

    int bos = -1, eos = -1, eot = -1, eom = -1, unk = -1, sep = -1, pad = -1;
    int fimPre = -1, fimSuf = -1, fimMid = -1, fimPad = -1, fimRep = -1, fimSep = -1;
    Boolean addBos, addEos, addSep, addSpacePrefix;
    /** Extra end-of-generation ids from HF generation_config.json / config.json. */
    final List<Integer> extraEog = new ArrayList<>();
}
