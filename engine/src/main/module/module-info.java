/** The inference engine: models, sessions, hooks, generation, batching (the {@code tiller} command line is the cli module). */
module dev.tiller.engine {
    requires transitive dev.tiller.kernels;
    requires transitive dev.tiller.models; // ModelConfig names its architecture's description
    requires com.fasterxml.jackson.databind;
    requires com.google.protobuf;
    requires me.tongfei.progressbar; // the batch job's progress line
    requires java.desktop;      // java.beans, for jinjava's expression resolvers
    requires jinjava;           // an automatic module (no descriptor of its own)
    // jinjava is an automatic module and declares nothing: the explicit modules it loads at run time are named here
    requires com.google.common;
    requires org.apache.commons.lang3;
    requires com.fasterxml.jackson.dataformat.yaml;
    requires com.fasterxml.jackson.datatype.jdk8;

    exports dev.tiller.engine.api;
    exports dev.tiller.engine.batch;
    exports dev.tiller.engine.batch.proto; // generated messages: protobuf reads their accessors reflectively
    exports dev.tiller.engine.chat;
    exports dev.tiller.engine.eval;
    exports dev.tiller.engine.generate;
    exports dev.tiller.engine.hooks;
    exports dev.tiller.engine.model;
    exports dev.tiller.engine.sampling;
    exports dev.tiller.engine.thinking;

    opens dev.tiller.engine.chat to jinjava;

    uses dev.tiller.engine.batch.SteeringResolver;
}
