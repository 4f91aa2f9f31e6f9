/** Steering: vectors and control vectors, extraction, the logit lens, training (their commands are the cli module). */
module dev.tiller.steering {
    requires transitive dev.tiller.engine;
    requires com.fasterxml.jackson.databind;
    requires com.google.protobuf;
    requires java.desktop;
    requires java.management;

    exports dev.tiller.steering;
    exports dev.tiller.steering.controlvector;
    exports dev.tiller.steering.extract;
    exports dev.tiller.steering.file;
    exports dev.tiller.steering.file.proto;
    exports dev.tiller.steering.lens;
    exports dev.tiller.steering.train;

    opens dev.tiller.steering.train to com.fasterxml.jackson.databind; // Trainer.Config is written as JSON

    provides dev.tiller.engine.batch.SteeringResolver with dev.tiller.steering.controlvector.ControlVectorResolver,
            dev.tiller.steering.file.SteerFileResolver;
}
