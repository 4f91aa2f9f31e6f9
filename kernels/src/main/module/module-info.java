/**
 * Compute kernels on the incubating Vector API. Requiring it here (transitively) is what lets module-path users run
 * without {@code --add-modules jdk.incubator.vector}.
 */
module dev.tiller.kernels {
    requires transitive dev.tiller.loader;
    requires transitive jdk.incubator.vector;

    exports dev.tiller.kernels;
    exports dev.tiller.kernels.backward;
    exports dev.tiller.kernels.cuda;
    exports dev.tiller.kernels.quant;
}
