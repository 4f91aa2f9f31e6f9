/**
 * The architectures: one description per transformer family (tensor names and shapes, config keys, block features,
 * RoPE frequencies) in {@code dev.tiller.models.arch}; and the writers of random-weight models of those families
 * ({@code dev.tiller.models.synthetic}, the {@code models} command).
 */
module dev.tiller.models {
    requires transitive dev.tiller.kernels;
    requires com.fasterxml.jackson.databind;
    requires info.picocli;

    exports dev.tiller.models.arch;
    exports dev.tiller.models.synthetic;

    opens dev.tiller.models.synthetic to info.picocli; // the models command's options are set reflectively
}
