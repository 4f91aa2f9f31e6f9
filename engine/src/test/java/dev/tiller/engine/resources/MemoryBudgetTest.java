package dev.tiller.engine.resources;

import dev.tiller.engine.api.Model;
import dev.tiller.engine.api.Session;
import dev.tiller.engine.model.MemoryBudget;
import dev.tiller.engine.model.MemoryBudgetExceededException;
import dev.tiller.engine.model.ModelConfig;
import dev.tiller.testsupport.Shared;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** KV cache and activation memory is drawn from a per-model budget; going over it is a clear error, never an OOM. */
class MemoryBudgetTest {
    static final Path STORIES = Shared.stories260K();
    Model model;
    static ModelConfig c;

    /** A model per test: its budget starts empty, whatever sessions other tests left for the GC. */
    @BeforeEach
    void load() {
        model = Model.load(STORIES);
        c = model.config();
    }

    @AfterEach
    void close() {
        model.close();
    }

    /** The KV cache size from the model's shape, written out independently of the engine's own helper. */
    static long kv(int positions) {
        return 2L /* keys and values */ * c.layers() * positions * (long) c.kvHeads() * c.headDim() * 4 /* float32 */;
    }

    @Test
    void aContextThatCanNeverFitIsRefusedUpFront() {
        model.memoryBudget().setLimit(kv(1000));
        {
            MemoryBudgetExceededException e = assertThrows(MemoryBudgetExceededException.class, () -> model.newSession(2000));
            assertEquals(kv(2000), e.requested());
            assertTrue(e.getMessage().contains("2000 positions") && e.getMessage().contains("budget"), e.getMessage());
            try (Session s = model.newSession(1000)) {
                assertEquals(1000, s.contextSize());
            }
        }
    }

    @Test
    void sessionsShareTheBudgetAndCloseReturnsTheirShare() {
        MemoryBudget b = model.memoryBudget();
        long before = b.used();
        assertEquals(0, before);
        // room for one cache of 128 positions and a one-token forward pass, not for a second cache
        b.setLimit(before + kv(128) + MemoryBudget.forwardBytes(c, 1, 1) + 1000);
        try {
            Session a = model.newSession(128);
            for (int i = 0; i < 100; i++) a.decode(i == 0 ? 1 : 300 + i);
            assertEquals(before + kv(128), b.used(), "a holds its grown cache (128 positions)");
            MemoryBudgetExceededException e = assertThrows(MemoryBudgetExceededException.class, () -> model.newSession(128));
            assertEquals(kv(64), e.requested(), "a new cache starts at 64 positions");
            a.close();
            assertEquals(before, b.used());
            try (Session again = model.newSession(128)) {
                again.decode(1);
            }
            assertEquals(before, b.used());
        } finally {
            b.setLimit(MemoryBudget.defaultLimit());
        }
    }

    @Test
    void anOversizedPrefillFailsCleanlyAndTheSessionGoesOn() {
        MemoryBudget b = model.memoryBudget();
        try (Session s = model.newSession(256)) {
            b.setLimit(b.used() + MemoryBudget.forwardBytes(c, 10, 1) + kv(256));
            int[] prompt = new int[200];
            java.util.Arrays.fill(prompt, 300);
            prompt[0] = 1;
            MemoryBudgetExceededException e = assertThrows(MemoryBudgetExceededException.class, () -> s.prefill(prompt));
            assertTrue(e.getMessage().contains("200 tokens"), e.getMessage());
            assertEquals(0, s.position(), "nothing was evaluated");
            s.prefill(new int[]{1, 300});
            assertEquals(2, s.position());
        } finally {
            b.setLimit(MemoryBudget.defaultLimit());
        }
    }

    @Test
    void aPromptPastTheContextIsAnArgumentErrorNotAnAllocation() {
        try (Session s = model.newSession(16)) {
            var e = assertThrows(IllegalArgumentException.class, () -> s.prefillAllLogits(new int[100_000]));
            assertTrue(e.getMessage().contains("context size 16"), e.getMessage());
        }
    }

    @Test
    void sessionsDroppedWithoutCloseAreReclaimed() {
        MemoryBudget b = model.memoryBudget();
        b.setLimit(b.used() + 3 * kv(128) + MemoryBudget.forwardBytes(c, 1, 1));
        try {
            for (int i = 0; i < 30; i++) {
                Session s = model.newSession(128); // never closed
                s.decode(1);
            }
        } finally {
            b.setLimit(MemoryBudget.defaultLimit());
        }
    }

    @Test
    void sizesParse() {
        assertEquals(512L << 20, MemoryBudget.parseSize("512M"));
        assertEquals(4L << 30, MemoryBudget.parseSize("4g"));
        assertEquals(1536L << 20, MemoryBudget.parseSize("1.5GiB"));
        assertEquals(1000, MemoryBudget.parseSize("1000"));
        assertThrows(IllegalArgumentException.class, () -> MemoryBudget.parseSize("lots"));
        assertThrows(IllegalArgumentException.class, () -> MemoryBudget.parseSize("-1G"));
    }
}
