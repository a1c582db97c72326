/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.snapshot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The crash-safe save protocol's handling of what it finds at {@code FILE.partial}. */
class SaveTargetTest {
    @TempDir
    Path dir;

    private static void write(FileChannel ch, String text) throws IOException {
        ch.write(ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void aSymbolicLinkAtThePartialFileIsNotWrittenThrough() throws Exception {
        Path victim = dir.resolve("victim.txt");
        Files.writeString(victim, "important data, not a snapshot");
        Path file = dir.resolve("g.snap");
        Files.createSymbolicLink(SaveTarget.partialOf(file), victim);

        SaveTarget t = SaveTarget.of(file, true);
        try (FileChannel ch = t.openForWriting()) {
            write(ch, "snapshot");
            t.commit(ch);
        }

        assertThat(Files.readString(victim)).isEqualTo("important data, not a snapshot");
        assertThat(Files.isSymbolicLink(file)).as("the link was not renamed into place").isFalse();
        assertThat(Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)).isTrue();
        assertThat(Files.readString(file)).isEqualTo("snapshot");
        assertThat(Files.exists(SaveTarget.partialOf(file), LinkOption.NOFOLLOW_LINKS)).isFalse();
    }

    @Test
    void aPartialFileReplacedDuringTheSaveIsNotRenamedOverTheTarget() throws Exception {
        Path file = dir.resolve("g.snap");
        Files.writeString(file, "previous snapshot");
        SaveTarget t = SaveTarget.of(file, true);
        try (FileChannel ch = t.openForWriting()) {
            write(ch, "new snapshot");
            Path partial = SaveTarget.partialOf(file);
            Files.delete(partial);
            Files.writeString(partial, "something else");
            assertThatThrownBy(() -> t.commit(ch)).isInstanceOf(IOException.class)
                    .hasMessage(partial + " was replaced or removed while the save was writing it; " + file
                            + " is left as it was");
        }
        assertThat(Files.readString(file)).isEqualTo("previous snapshot");
    }

    @Test
    void aRegularPartialFileLeftByACrashIsReused() throws Exception {
        Path file = dir.resolve("g.snap");
        Files.writeString(SaveTarget.partialOf(file), "half a snapshot from a save that crashed");
        SaveTarget t = SaveTarget.of(file, false);
        try (FileChannel ch = t.openForWriting()) {
            write(ch, "whole");
            t.commit(ch);
        }
        assertThat(Files.readString(file)).isEqualTo("whole");
    }
}
