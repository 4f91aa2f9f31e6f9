module dev.tiller.examples.embed {
    requires dev.tiller.steering;
}
