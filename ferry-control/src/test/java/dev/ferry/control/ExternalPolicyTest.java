/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ferry.policy.Decision;
import dev.ferry.policy.Policies;
import dev.ferry.policy.PrecopyPolicy;
import dev.ferry.policy.PrecopyStats;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A controller that answers late, twice, never, or goes away; and policies parsed but not used. */
class ExternalPolicyTest {
    @TempDir
    Path dir;
    private QmpServer server;
    private QmpClient controller;

    @BeforeEach
    void open() throws Exception {
        ControlAddress a = ControlAddress.parse("unix:" + dir.resolve("ctl.sock"));
        server = QmpServer.open(a, "ferry test");
        ExternalPolicy.install(server);
        controller = QmpClient.connect(a, Duration.ofSeconds(5));
    }

    @AfterEach
    void close() throws Exception {
        controller.close();
        server.close();
    }

    private static PrecopyStats stats(int iteration, long elapsedMillis) {
        return new PrecopyStats(PrecopyStats.Moment.BEFORE_BATCH, iteration, 0, 100, elapsedMillis, 1e8, 10, 4096,
                300);
    }

    private static CompletableFuture<Decision> decideInBackground(PrecopyPolicy p, PrecopyStats s) {
        return CompletableFuture.supplyAsync(() -> p.decide(s));
    }

    private long awaitRequest() throws InterruptedException {
        JsonNode e = controller.awaitEvent("FERRY_POLICY_REQUEST", Duration.ofSeconds(5));
        assertThat(e).as("a FERRY_POLICY_REQUEST").isNotNull();
        return e.at("/data/id").asLong();
    }

    private JsonNode decide(long id, String decision) throws Exception {
        return controller.call("x-ferry-policy-decide",
                QmpServer.JSON.readTree("{\"id\": " + id + ", \"decision\": \"" + decision + "\"}"));
    }

    @Test
    void aPolicyParsedButNotUsedDoesNotTakeTheAnswersOfTheOneInUse() throws Exception {
        PrecopyPolicy inUse = Policies.parse("external,deadline=5s,fallback=timeout;after=1h;action=abort");
        // e.g. migrate-set-parameters {"policy": "external", ...} refused for another of its values
        Policies.parse("external,deadline=5s");
        CompletableFuture<Decision> d = decideInBackground(inUse, stats(0, 0));
        long id = awaitRequest();
        assertThat(decide(id, "stop-and-copy").has("return")).isTrue();
        assertThat(d.get(5, TimeUnit.SECONDS)).isEqualTo(Decision.STOP_AND_COPY);
    }

    @Test
    void anAnswerMeantForAnEarlierMigrationNeverAnswersALaterOne() throws Exception {
        PrecopyPolicy first = Policies.parse("external,deadline=200ms");
        CompletableFuture<Decision> d1 = decideInBackground(first, stats(0, 0));
        long id1 = awaitRequest();
        d1.get(5, TimeUnit.SECONDS); // the deadline passed: the fallback decided
        PrecopyPolicy second = Policies.parse("external,deadline=5s,fallback=timeout;after=1h;action=abort");
        CompletableFuture<Decision> d2 = decideInBackground(second, stats(0, 0));
        long id2 = awaitRequest();
        assertThat(id2).isNotEqualTo(id1);
        JsonNode late = decide(id1, "abort");
        assertThat(late.at("/error/desc").asText()).isEqualTo("policy request " + id1 + " is not waiting: it was"
                + " answered already, or its deadline passed and the fallback decided");
        assertThat(decide(id2, "continue").has("return")).isTrue();
        assertThat(d2.get(5, TimeUnit.SECONDS)).isEqualTo(Decision.CONTINUE_PRECOPY);
        assertThat(decide(id2, "abort").at("/error/desc").asText()).contains("is not waiting");
        assertThat(decide(id2 + 5, "abort").at("/error/desc").asText())
                .isEqualTo("no policy request " + (id2 + 5) + " was made (the last one is " + id2 + ")");
    }

    @Test
    void aControllerThatGoesAwayWhileAskedLetsTheFallbackDecideAtOnce() throws Exception {
        PrecopyPolicy p = new ExternalPolicy(server, s -> Decision.ABORT, Duration.ofSeconds(30), false);
        CompletableFuture<Decision> d = decideInBackground(p, stats(0, 0));
        awaitRequest();
        long start = System.nanoTime();
        controller.close();
        assertThat(d.get(10, TimeUnit.SECONDS)).isEqualTo(Decision.ABORT);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
    }

    @Test
    void aDecisionOnTheSocketEndsTheWaitAtOnce() throws Exception {
        PrecopyPolicy p = new ExternalPolicy(server, s -> Decision.ABORT, Duration.ofSeconds(30), false);
        CompletableFuture<Decision> d = decideInBackground(p, stats(0, 0));
        awaitRequest();
        ExternalPolicy.release(server); // what migrate_cancel and x-ferry-switchover do
        assertThat(d.get(5, TimeUnit.SECONDS)).isEqualTo(Decision.CONTINUE_PRECOPY);
    }

    @Test
    void theFirstRoundOfTheNextMigrationIsAskedToo() throws Exception {
        PrecopyPolicy p = new ExternalPolicy(server, s -> Decision.ABORT, Duration.ofSeconds(5), false);
        CompletableFuture<Decision> d = decideInBackground(p, stats(0, 40));
        decide(awaitRequest(), "abort"); // the first migration ends in its first round
        assertThat(d.get(5, TimeUnit.SECONDS)).isEqualTo(Decision.ABORT);
        d = decideInBackground(p, stats(0, 0));
        decide(awaitRequest(), "continue");
        assertThat(d.get(5, TimeUnit.SECONDS)).isEqualTo(Decision.CONTINUE_PRECOPY);
    }

    @Test
    void badAnswersAndOptionsAreRefusedByName() throws Exception {
        assertThat(controller.call("x-ferry-policy-decide", QmpServer.JSON.readTree("{\"decision\": \"abort\"}"))
                .at("/error/desc").asText()).isEqualTo("Parameter 'id' is missing");
        assertThat(decide(1, "go").at("/error/desc").asText())
                .isEqualTo("Parameter 'decision': must be continue, stop-and-copy or abort, not 'go'");
        assertThat(controller.call("x-ferry-policy-decide",
                QmpServer.JSON.readTree("{\"id\": \"1\", \"decision\": \"abort\"}")).at("/error/desc").asText())
                .isEqualTo("Invalid parameter type for 'id', expected: integer");
        assertThatThrownBy(() -> Policies.parse("external,deadline=0s"))
                .hasMessage("policy 'external': deadline must be at least 1ms, not 0ns");
    }
}
