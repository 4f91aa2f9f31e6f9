/** Steering: vectors and control vectors, extraction, the logit lens, training, and their commands. */
module dev.tiller.steering {
    requires transitive dev.tiller.engine;
    requires com.fasterxml.jackson.databind;
    requires com.google.protobuf;
    requires info.picocli;
    requires java.desktop;
    requires java.management;

    exports dev.tiller.steering;
    exports dev.tiller.steering.cli;
    exports dev.tiller.steering.controlvector;
    exports dev.tiller.steering.extract;
    exports dev.tiller.steering.file;
    exports dev.tiller.steering.file.proto;
    exports dev.tiller.steering.lens;
    exports dev.tiller.steering.train;

    opens dev.tiller.steering.cli to info.picocli;
    opens dev.tiller.steering.train to info.picocli;

    provides dev.tiller.engine.batch.SteeringResolver with dev.tiller.steering.ControlVectorResolver, dev.tiller.steering.SteerFileResolver;
    provides dev.tiller.cli.SteeringApplier with dev.tiller.steering.CliSteering;
    provides dev.tiller.cli.TillerSubcommand with dev.tiller.steering.cli.SteeringSubcommands.Extract,
            dev.tiller.steering.cli.SteeringSubcommands.Lens, dev.tiller.steering.cli.SteeringSubcommands.Sweep,
            dev.tiller.steering.cli.SteeringSubcommands.Overhead, dev.tiller.steering.train.TrainSubcommands.Train,
            dev.tiller.steering.train.TrainSubcommands.Eval;
}
