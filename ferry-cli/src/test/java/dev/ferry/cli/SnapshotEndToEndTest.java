/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ferry.guest.Guest;
import dev.ferry.snapshot.RestoreStats;
import dev.ferry.snapshot.SaveTarget;
import dev.ferry.snapshot.SnapshotInspector;
import dev.ferry.snapshot.Snapshots;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Live saves and restores through the command line, in JVMs of their own, as a user runs them. */
class SnapshotEndToEndTest {
    private static final Duration LONG = Duration.ofSeconds(120);

    @TempDir
    Path dir;

    private static JsonNode json(Path file) throws IOException {
        return Json.MAPPER.readTree(file.toFile());
    }

    private static List<String> saveArgs(String format) {
        return switch (format) {
            case "mapped-ram" -> List.of("--mapped-ram");
            case "direct-io" -> List.of("--mapped-ram", "--direct-io");
            default -> List.of();
        };
    }

    @ParameterizedTest(name = "{0} saved as {1}")
    @CsvSource(delimiter = '|', value = {
        "memtest                  | mapped-ram",
        "seed                     | mapped-ram",
        "random,wss=64M,size=64   | mapped-ram",
        "idle                     | direct-io",
        "memtest                  | stream"
    })
    void everyWorkloadSavesLiveAndRestoresByteForByte(String workload, String format) throws Exception {
        Path snap = dir.resolve("guest.snap");
        Path srcDump = dir.resolve("src.ram");
        Path dstDump = dir.resolve("dst.ram");
        Path srcStats = dir.resolve("src.json");
        Path dstStats = dir.resolve("dst.json");
        if (format.equals("direct-io")) {
            try {
                SaveTarget.of(snap, true).probeDirect();
            } catch (SaveTarget.RefusedException e) {
                Assumptions.abort("the test directory refuses O_DIRECT: " + e.getMessage());
            }
        }
        List<String> run = new ArrayList<>(List.of("run", "--memory", "128M", "--vcpus", "2", "--workload", workload,
                "--save-to", snap.toString(), "--migrate-after", "1s", "--dump-ram", srcDump.toString(),
                "--stats-json", srcStats.toString(),
                // memtest rewrites its 99 MiB every round: it converges only while the file takes some 330 MB/s
                // (99 MiB in 300 ms), which this machine's disk does not always give. What is tested is the
                // save and the restore, so a save that has not converged in 20 s stops and copies all the same.
                "--policy", "downtime,timeout=20s,on-timeout=force"));
        run.addAll(saveArgs(format));
        try (FerryProcess src = FerryProcess.start(run.toArray(String[]::new))) {
            assertThat(src.exit(LONG)).as(src.output()).isZero();
            assertThat(src.output()).contains("save completed").contains("saved " + snap);
        }
        assertThat(Files.exists(SaveTarget.partialOf(snap))).isFalse();
        List<String> restore = new ArrayList<>(List.of("restore", snap.toString(), "--run-for", "1s", "--verify",
                "--dump-ram", dstDump.toString(), "--stats-json", dstStats.toString()));
        if (format.equals("direct-io")) {
            restore.add("--direct-io");
        }
        try (FerryProcess dst = FerryProcess.start(restore.toArray(String[]::new))) {
            assertThat(dst.exit(LONG)).as(dst.output()).isZero();
            assertThat(dst.output()).contains("restored " + snap).contains("verify: PASS");
        }
        assertThat(DemoCommand.sameContent(srcDump, dstDump)).as("RAM dumps identical").isTrue();
        JsonNode s = json(srcStats);
        JsonNode d = json(dstStats);
        assertThat(s.at("/migration/status").asText()).isEqualTo("completed");
        assertThat(s.at("/save/format").asText()).isEqualTo(format.equals("stream") ? "stream" : "mapped-ram");
        assertThat(d.at("/restore/format").asText()).isEqualTo(format.equals("stream") ? "stream" : "mapped-ram");
        assertThat(d.at("/verify/passed").asBoolean()).isTrue();
        // The restored guest resumed where the saved one stopped, and went on.
        assertThat(d.at("/workload-at-resume")).isEqualTo(s.at("/workload-at-switchover"));
        if (!format.equals("stream")) {
            assertThat(s.at("/save/file-size").asLong()).isLessThanOrEqualTo((128L << 20) + (1L << 20) + 4096);
        }
    }

    @Test
    void targetsThatCannotSeekAreRefusedForMappedRamBeforeTheGuestStarts() throws Exception {
        Path fifo = dir.resolve("fifo");
        Assumptions.assumeTrue(new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor() == 0, "no mkfifo");
        Path socket = dir.resolve("sock");
        try (ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            s.bind(UnixDomainSocketAddress.of(socket));
            String[][] cases = {
                {fifo.toString(), "it is a FIFO (pipe)"},
                {"/dev/stdout", "it is a FIFO (pipe)"},        // the test reads the child's output through a pipe
                {"/dev/null", "it is a character device"},
                {socket.toString(), "it is a socket"},
            };
            for (String[] c : cases) {
                try (FerryProcess p = FerryProcess.start("run", "--memory", "64M", "--save-to", c[0], "--mapped-ram",
                        "--run-for", "1s")) {
                    assertThat(p.exit(LONG)).as(p.output()).isEqualTo(Main.ERROR);
                    assertThat(p.output()).isEqualTo("ferry run: cannot save mapped-ram to " + c[0] + ": " + c[1]
                            + ", which cannot seek; mapped-ram writes every page at a fixed offset and needs a"
                            + " regular file");
                }
            }
        }
    }

    @Test
    void aStreamSavedToStandardOutputKeepsTheProgressLinesOutOfIt() throws Exception {
        Path stream = dir.resolve("stdout.stream");
        Path log = dir.resolve("stderr.log");
        Process p = new ProcessBuilder(FerryProcess.command("run", "--memory", "16M", "--workload", "idle",
                "--save-to", "/dev/stdout", "--migrate-after", "0s"))
                .redirectOutput(stream.toFile()).redirectError(log.toFile()).start();
        assertThat(p.waitFor()).as(Files.readString(log)).isZero();
        assertThat(Files.readString(log)).contains("saving to /dev/stdout (sequential stream)").contains("save completed");
        // stdout is a regular file here, so the save went through stdout.stream.partial and a rename: the summary
        // describes the renamed file, not the inode /dev/stdout still names
        assertThat(Files.readString(log)).contains("saved " + stream + " (stream): file size " + Files.size(stream)
                + " bytes");
        assertThat(SnapshotInspector.inspect(stream).complete()).isTrue();
        try (Guest g = Snapshots.restore(stream, false, new RestoreStats())) {
            assertThat(g.check().passed()).isTrue();
        }
    }

    @Test
    void directIoOnAFileSystemThatRefusesItIsAClearError() throws Exception {
        // ramfs refuses O_DIRECT (tmpfs accepts it since Linux 6.6); mounted in a private mount namespace.
        Path mnt = dir.resolve("ramfs");
        Files.createDirectory(mnt);
        Process probe = new ProcessBuilder("unshare", "-m", "sh", "-c", "mount -t ramfs ramfs " + mnt)
                .redirectErrorStream(true).start();
        Assumptions.assumeTrue(probe.waitFor() == 0, "cannot mount a ramfs in a private namespace here"
                + " (needs unshare and CAP_SYS_ADMIN): " + new String(probe.getInputStream().readAllBytes()).trim());
        try (FerryProcess p = FerryProcess.startWrapped(List.of("unshare", "-m", "sh", "-c",
                "mount -t ramfs ramfs " + mnt + " && exec \"$@\"", "sh"), "run", "--memory", "64M", "--save-to",
                mnt.resolve("x.snap").toString(), "--mapped-ram", "--direct-io", "--run-for", "1s")) {
            assertThat(p.exit(LONG)).as(p.output()).isEqualTo(Main.ERROR);
            assertThat(p.output()).isEqualTo("ferry run: --direct-io: the file system of " + mnt
                    + " (ramfs) refuses O_DIRECT (Invalid argument); save without --direct-io or to another file"
                    + " system");
        }
    }

    /**
     * A wrapper that runs a command as this user without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH, so that file
     * modes apply to it even when the tests run as root; skips the test where that cannot be done.
     * {@code readOnlyDir} (mode r-x) is where the probe checks that a write is refused.
     */
    private static List<String> withoutPermissionOverride(Path readOnlyDir) throws Exception {
        List<String> wrapper = List.of("setpriv", "--bounding-set=-dac_override,-dac_read_search");
        List<String> probeCmd = new ArrayList<>(wrapper);
        probeCmd.addAll(List.of("sh", "-c", "! touch " + readOnlyDir.resolve("probe")));
        Process probe = new ProcessBuilder(probeCmd).redirectErrorStream(true).start();
        Assumptions.assumeTrue(probe.waitFor() == 0, "cannot run without CAP_DAC_OVERRIDE here (needs setpriv): "
                + new String(probe.getInputStream().readAllBytes()).trim());
        return wrapper;
    }

    @Test
    void anUnreadableSnapshotIsAOneLineErrorThatSaysSo() throws Exception {
        Path ro = dir.resolve("ro");
        Files.createDirectory(ro);
        Path snap = ro.resolve("g.snap");
        try (FerryProcess p = FerryProcess.start("run", "--memory", "8M", "--workload", "idle", "--save-to",
                snap.toString(), "--mapped-ram", "--migrate-after", "0s")) {
            assertThat(p.exit(LONG)).as(p.output()).isZero();
        }
        Files.setPosixFilePermissions(snap, java.nio.file.attribute.PosixFilePermissions.fromString("---------"));
        Files.setPosixFilePermissions(ro, java.nio.file.attribute.PosixFilePermissions.fromString("r-xr-xr-x"));
        try {
            List<String> wrapper = withoutPermissionOverride(ro);
            try (FerryProcess p = FerryProcess.startWrapped(wrapper, "restore", snap.toString(), "--run-for", "0s")) {
                assertThat(p.exit(LONG)).as(p.output()).isEqualTo(Main.ERROR);
                assertThat(p.output()).isEqualTo("ferry restore: cannot read " + snap + ": permission denied; no"
                        + " guest was started");
            }
            try (FerryProcess p = FerryProcess.startWrapped(wrapper, "inspect", snap.toString())) {
                assertThat(p.exit(LONG)).as(p.output()).isEqualTo(Main.ERROR);
                assertThat(p.output()).isEqualTo("ferry inspect: " + snap + ": permission denied");
            }
        } finally {
            Files.setPosixFilePermissions(ro, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        }
    }

    @Test
    void replacingASnapshotInADirectoryThatIsNotWritableIsRefusedBeforeTheGuestStarts() throws Exception {
        // Run as root without CAP_DAC_OVERRIDE, so that the directory's mode bits apply (root's tests would
        // otherwise write anywhere): the existing file is writable, its directory is not.
        Path ro = dir.resolve("ro");
        Files.createDirectory(ro);
        Path snap = ro.resolve("g.snap");
        Files.writeString(snap, "an older snapshot");
        Files.setPosixFilePermissions(snap, java.nio.file.attribute.PosixFilePermissions.fromString("rw-rw-rw-"));
        Files.setPosixFilePermissions(ro, java.nio.file.attribute.PosixFilePermissions.fromString("r-xr-xr-x"));
        List<String> dropCaps = withoutPermissionOverride(ro);
        try (FerryProcess p = FerryProcess.startWrapped(dropCaps, "run", "--memory", "16M", "--save-to",
                snap.toString(), "--mapped-ram", "--migrate-after", "0s", "--run-for", "5s")) {
            assertThat(p.exit(LONG)).as(p.output()).isEqualTo(Main.ERROR);
            assertThat(p.output()).isEqualTo("ferry run: cannot save to " + snap + ": directory " + ro
                    + " is not writable");
        } finally {
            Files.setPosixFilePermissions(ro, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        }
        assertThat(Files.readString(snap)).isEqualTo("an older snapshot");
    }

    @ParameterizedTest
    @ValueSource(strings = {"mapped-ram", "stream"})
    void anIoErrorDuringASaveLeavesThePreviousSnapshot(String format) throws Exception {
        Path snap = dir.resolve("keep.snap");
        List<String> first = new ArrayList<>(List.of("run", "--memory", "8M", "--workload", "idle", "--save-to",
                snap.toString(), "--migrate-after", "0s"));
        first.addAll(saveArgs(format));
        try (FerryProcess p = FerryProcess.start(first.toArray(String[]::new))) {
            assertThat(p.exit(LONG)).as(p.output()).isZero();
        }
        byte[] before = Files.readAllBytes(snap);
        // The file size limit (16 MiB) makes writes fail mid-save with EFBIG, as a full disk would with ENOSPC.
        // --run-for counts from the start and leaves room for the JIT warm-up before the save (seconds when slow).
        List<String> second = new ArrayList<>(List.of("run", "--memory", "64M", "--workload", "idle,zero=0",
                "--save-to", snap.toString(), "--migrate-after", "1s", "--run-for", "10s"));
        second.addAll(saveArgs(format));
        try (FerryProcess p = FerryProcess.startVia("ulimit -f 16384", second.toArray(String[]::new))) {
            assertThat(p.exit(LONG)).as(p.output()).isEqualTo(Main.MIGRATION_FAILED);
            assertThat(p.output()).contains("ferry run: save failed: cannot write")
                    .contains("File too large").contains("the guest keeps running here").doesNotContain("\tat ");
        }
        assertThat(Files.readAllBytes(snap)).as("the previous snapshot is untouched").isEqualTo(before);
        assertThat(Files.exists(SaveTarget.partialOf(snap))).as("no partial file is left").isFalse();
        try (Guest g = Snapshots.restore(snap, false, new RestoreStats())) {
            assertThat(g.ramSize()).isEqualTo(8L << 20);
        }
    }

    @Test
    void restoreRefusesIncompleteAndDamagedFilesAndStartsNothing() throws Exception {
        Path snap = dir.resolve("g.snap");
        try (FerryProcess p = FerryProcess.start("run", "--memory", "16M", "--workload", "idle", "--save-to",
                snap.toString(), "--mapped-ram", "--migrate-after", "0s")) {
            assertThat(p.exit(LONG)).as(p.output()).isZero();
        }
        byte[] whole = Files.readAllBytes(snap);
        Path cut = dir.resolve("cut.snap");
        Files.write(cut, Arrays.copyOf(whole, whole.length - 10));
        Path garbage = dir.resolve("garbage");
        Files.writeString(garbage, "GET / HTTP/1.1\r\n");
        String[][] cases = {
            {cut.toString(), "ferry restore: snapshot " + cut + ": incomplete: no footer"},
            {garbage.toString(), "ferry restore: snapshot " + garbage + " is not a Ferry snapshot"},
            {dir.resolve("missing").toString(), "ferry restore: " + dir.resolve("missing") + ": no such file"},
        };
        for (String[] c : cases) {
            // --prealloc faults in the RAM size the file declares: not before the file vouches for it
            for (List<String> extra : List.of(List.<String>of(), List.of("--prealloc"))) {
                List<String> args = new ArrayList<>(List.of("restore", c[0], "--run-for", "1s"));
                args.addAll(extra);
                try (FerryProcess p = FerryProcess.start(args.toArray(String[]::new))) {
                    assertThat(p.exit(LONG)).as(p.output()).isEqualTo(Main.ERROR);
                    assertThat(p.output()).as(args.toString()).startsWith(c[1]).endsWith("; no guest was started")
                            .doesNotContain("guest resumed").doesNotContain("\tat ");
                    assertThat(p.output().lines().count()).as(p.output()).isEqualTo(1);
                }
            }
        }
    }

    @Test
    void inspectDescribesAFileForPeopleAndForTools() throws Exception {
        Path snap = dir.resolve("g.snap");
        try (FerryProcess p = FerryProcess.start("run", "--memory", "16M,4M", "--workload", "idle", "--save-to",
                snap.toString(), "--mapped-ram", "--migrate-after", "0s")) {
            assertThat(p.exit(LONG)).as(p.output()).isZero();
        }
        try (FerryProcess p = FerryProcess.start("inspect", snap.toString())) {
            assertThat(p.exit(LONG)).as(p.output()).isZero();
            assertThat(p.output()).contains("mapped-ram, version 1").contains("state            complete")
                    .contains("RAM              20.0 MiB in 2 blocks").contains("ram0").contains("ram1")
                    .contains("execution state").contains("on disk");
        }
        Path jsonOut = dir.resolve("inspect.json");
        try (FerryProcess p = FerryProcess.start("inspect", snap.toString(), "--json")) {
            assertThat(p.exit(LONG)).as(p.output()).isZero();
            Files.writeString(jsonOut, p.output());
        }
        JsonNode j = json(jsonOut);
        assertThat(j.at("/format").asText()).isEqualTo("mapped-ram");
        assertThat(j.at("/complete").asBoolean()).isTrue();
        assertThat(j.at("/ram-size").asLong()).isEqualTo(20L << 20);
        assertThat(j.at("/pages-present").asLong() + j.at("/zero-pages").asLong()).isEqualTo(5120);
        assertThat(j.at("/blocks/1/id").asText()).isEqualTo("ram1");
        assertThat(j.at("/blocks/1/pages-offset").asLong() % (1 << 20)).isZero();
        Path cut = dir.resolve("cut.snap");
        Files.write(cut, Arrays.copyOf(Files.readAllBytes(snap), 3 << 20));
        try (FerryProcess p = FerryProcess.start("inspect", cut.toString())) {
            assertThat(p.exit(LONG)).as(p.output()).isEqualTo(Main.ERROR);
            assertThat(p.output()).contains("NOT restorable").contains("incomplete").contains("ram1");
        }
    }

    /**
     * Kills saves with SIGKILL at seeded random moments (before the file exists, during the rounds, during
     * completion) of child JVMs running {@code ferry run --save-to}: the target is always either the previous complete snapshot or a new complete one, never a file
     * that is incomplete, and whatever partial file is left is refused as incomplete.
     */
    @ParameterizedTest
    @ValueSource(strings = {"mapped-ram", "stream"})
    void aSaveKilledAtAnyMomentLeavesNoIncompleteFileThatRestores(String format) throws Exception {
        Path snap = dir.resolve("k.snap");
        Path partial = SaveTarget.partialOf(snap);
        List<String> args = new ArrayList<>(List.of("run", "--memory", "64M", "--workload", "memtest,end=32M",
                "--save-to", snap.toString(), "--migrate-after", "0s", "--max-bandwidth", "40M", "--policy",
                "downtime,timeout=1s,on-timeout=force", "--run-for", "30s"));
        args.addAll(saveArgs(format));
        try (FerryProcess p = FerryProcess.start(args.toArray(String[]::new))) {
            assertThat(p.exit(LONG)).as(p.output()).isZero();
        }
        byte[] previous = Files.readAllBytes(snap);
        int runs = format.equals("mapped-ram") ? 6 : 3;
        int completedAnyway = 0;
        int partialsRefused = 0;
        int completedUnrenamed = 0;
        // Stratified seeded delays: one random moment in each slice of the first 2.4 s of the save (which takes
        // about 1 to 2 s here), so that kills fall before the file exists, during the rounds and at completion.
        Random random = new Random(format.equals("mapped-ram") ? 20260401L : 20260402L);
        long span = 2400;
        for (int seed = 1; seed <= runs; seed++) {
            long delay = (long) ((seed - 1 + random.nextDouble()) * span / runs);
            try (FerryProcess p = FerryProcess.start(args.toArray(String[]::new))) {
                p.await("saving to", LONG);
                Thread.sleep(delay);
                p.kill();
            }
            byte[] now = Files.readAllBytes(snap);
            boolean partialLeft = Files.exists(partial);
            boolean partialWhole = partialLeft && SnapshotInspector.inspect(partial).complete();
            System.out.printf("%s seed %d: killed %d ms after the save started: target %s, partial file %s%n", format,
                    seed, delay, Arrays.equals(now, previous) ? "is the previous snapshot" : "is a new snapshot",
                    partialLeft ? "left (" + Files.size(partial) + " bytes, " + (partialWhole ? "complete" : "incomplete")
                            + ")" : "absent");
            if (!Arrays.equals(now, previous)) {
                // Killed after the rename: then it must be a new, complete snapshot.
                completedAnyway++;
                try (Guest g = Snapshots.restore(snap, false, new RestoreStats())) {
                    assertThat(g.ramSize()).isEqualTo(64L << 20);
                }
                previous = now;
            }
            assertThat(SnapshotInspector.inspect(snap).complete()).as("seed %d, killed after %d ms", seed, delay)
                    .isTrue();
            if (partialWhole) {
                // Killed between the last write (footer or COMPLETE) and the rename, while the file was fsynced: the
                // partial file is whole and verified, and only the rename is missing.
                completedUnrenamed++;
                try (Guest g = Snapshots.restore(partial, false, new RestoreStats())) {
                    assertThat(g.ramSize()).isEqualTo(64L << 20);
                }
            } else if (partialLeft) {
                partialsRefused++;
                assertThatThrownBy(() -> Snapshots.restore(partial, false, new RestoreStats()).close())
                        .as("seed %d, killed after %d ms: the partial file", seed, delay)
                        .isInstanceOf(IOException.class).hasMessageContaining("incomplete");
            }
        }
        // Most kills land inside the save (a kill after the rename leaves a new complete snapshot, which is fine).
        assertThat(partialsRefused).as("kills that landed inside a save (%d completed anyway, %d complete but not"
                + " renamed)", completedAnyway, completedUnrenamed)
                .isPositive();
    }
}
