/** Model files (GGUF, safetensors, Hugging Face folders) memory-mapped, and their tokenizers. */
module dev.tiller.loader {
    requires transitive com.fasterxml.jackson.databind;

    exports dev.tiller.loader;
    exports dev.tiller.loader.gguf;
    exports dev.tiller.loader.hf;
    exports dev.tiller.loader.safetensors;
    exports dev.tiller.tokenizer;
}
