/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.ServerSocket;
import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/** Bad input on the command line: one line naming what is wrong, a non-zero exit, no stack trace. */
class CommandLineTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(60);

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "run --bogus | 2 | Unknown option: '--bogus'",
        "run --memory lots | 2 | not a size: 'lots'",
        "run --memory 1000 --run-for 1s | 2 | multiple of 4 KiB",
        "run --workload spin | 2 | unknown workload 'spin'",
        "run --workload memtest,ned=5M | 2 | unknown option ned for 'memtest'",
        "run --memory 64M --workload memtest,end=100M --run-for 1s | 2 | beyond guest RAM",
        "run --policy fastest | 2 | unknown policy 'fastest'",
        "run --migrate-to nowhere | 2 | expected HOST:PORT",
        "run --downtime-limit -5 | 2 | downtime-limit must be between",
        "run --mapped-ram | 2 | --mapped-ram needs --save-to FILE",
        "run --save-to x.snap --direct-io | 2 | --direct-io needs --mapped-ram",
        "run --save-to x.snap --migrate-to 127.0.0.1:9 | 2 | --save-to and --migrate-to exclude each other",
        "run --replicate-to 127.0.0.1:9 --checkpoint-interval -5 | 2 | --checkpoint-interval -5 is outside 10..60000 ms",
        "run --checkpoint-interval 9223372036854775807 | 2 | is outside 10..60000 ms",
        "run --replicate-to 127.0.0.1:9 --slab-size 1000 | 2 | --slab-size 1000 is not a positive multiple of 4 KiB",
        "standby --listen 127.0.0.1:0 --slab-size 1000 | 2 | --slab-size 1000 is not a positive multiple of 4 KiB",
        "incoming --listen 127.0.0.1:0 --prealloc 99999T | 2 | --prealloc 109950063265972224 is outside 1..",
        "incoming | 2 | Missing required option: '--listen",
        "incoming --listen no.such.host.invalid:4444 | 1 | ferry incoming: cannot listen on no.such.host.invalid:4444:"
                + " unknown host no.such.host.invalid",
        "run --workload kv,host=no.such.host.invalid | 2 | kv: unknown host no.such.host.invalid",
        "restore | 2 | Missing required parameter: 'FILE'",
        "inspect | 2 | Missing required parameter: 'FILE'",
        "inspect no-such.snap | 1 | ferry inspect: no-such.snap: no such file",
        "frobnicate | 2 | Unmatched argument"
    })
    void badInputIsOneClearLine(String args, int status, String message) throws Exception {
        try (FerryProcess p = FerryProcess.start(args.split(" "))) {
            assertThat(p.exit(TIMEOUT)).as(p.output()).isEqualTo(status);
            assertThat(p.output()).contains(message).doesNotContain("\tat ").doesNotContain("Exception");
            assertThat(p.output().lines().count()).isEqualTo(1);
        }
    }

    @Test
    void theStartLineSaysWhatAnXbzrleCacheLargerThanTheGuestUses() {
        assertThat(RunCommand.xbzrleCache(64L << 20, 1L << 30)).isEqualTo("cache 64.0 MiB");
        assertThat(RunCommand.xbzrleCache(1L << 30, 1L << 30)).isEqualTo("cache 1.0 GiB");
        assertThat(RunCommand.xbzrleCache(256L << 20, 150L << 20))
                .isEqualTo("cache 256 MiB, at most the guest's 150 MiB used");
    }

    @Test
    void listeningOnABusyPortIsAnError() throws Exception {
        try (ServerSocket busy = new ServerSocket(0);
                FerryProcess p = FerryProcess.start("incoming", "--listen", "127.0.0.1:" + busy.getLocalPort())) {
            assertThat(p.exit(TIMEOUT)).isEqualTo(Main.ERROR);
            assertThat(p.output()).contains("cannot listen on 127.0.0.1:" + busy.getLocalPort());
        }
    }

    @Test
    void aGuestWhosePortCannotBeOpenedDoesNotRunWithoutIt() throws Exception {
        // 192.0.2.1 (TEST-NET-1) is no address of this machine: the bind fails at once, not after retries.
        try (FerryProcess p = FerryProcess.start("run", "--memory", "16M", "--workload", "kv,host=192.0.2.1,port=7777",
                "--run-for", "20s")) {
            assertThat(p.exit(TIMEOUT)).as(p.output()).isEqualTo(Main.ERROR);
            assertThat(p.output()).endsWith("ferry run: cannot listen on 192.0.2.1:7777: Cannot assign requested"
                    + " address; the guest cannot serve its clients and is stopped").doesNotContain("\tat ");
        }
    }

    @Test
    void helpListsTheCommands() throws Exception {
        try (FerryProcess p = FerryProcess.start("--help")) {
            assertThat(p.exit(TIMEOUT)).isZero();
            assertThat(p.output()).contains("run").contains("incoming").contains("restore").contains("inspect")
                    .contains("demo");
        }
    }
}
