package dev.tiller.cli;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** No package of the main code (every module on the application's class path) depends on itself through others. */
class PackageCyclesTest {

    @Test
    void packagesAreFreeOfCycles() {
        JavaClasses classes = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("dev.tiller");
        assertTrue(classes.size() > 300, "imported only " + classes.size() + " classes");
        slices().matching("dev.tiller.(**)").should().beFreeOfCycles().check(classes);
    }
}
