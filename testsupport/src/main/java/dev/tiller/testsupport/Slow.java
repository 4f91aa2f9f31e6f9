package dev.tiller.testsupport;

import org.junit.jupiter.api.Tag;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * A test (or a class of them) that takes seconds rather than milliseconds: seeded fuzzing, training runs, sparse
 * multi-GiB files, child JVMs, many-thread stress and whole-model reference sweeps. {@code mvn -B verify} runs them;
 * the everyday loop leaves them out with {@code -DexcludedGroups=slow} (see docs/architecture.md).
 */
@Target({ElementType.TYPE, ElementType.METHOD})
@Retention(RetentionPolicy.RUNTIME)
@Tag("slow")
public @interface Slow {}
