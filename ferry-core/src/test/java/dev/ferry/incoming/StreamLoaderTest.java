/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.incoming;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.precopy.StreamSink;
import dev.ferry.stream.FrameReader;
import dev.ferry.stream.Records;
import dev.ferry.stream.StreamFormat;
import dev.ferry.stream.StreamFormatException;
import dev.ferry.stream.StreamHeader;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;

/** What the destination answers on the return path, and what a source makes of it. */
class StreamLoaderTest {
    /** A source's stream header of another version: 16 bytes with a valid CRC. */
    private static byte[] headerOfVersion(int version) {
        byte[] h = StreamHeader.encode().array();
        ByteBuffer b = ByteBuffer.wrap(h);
        b.putShort(8, (short) version);
        CRC32C crc = new CRC32C();
        crc.update(h, 0, 12);
        b.putInt(12, (int) crc.getValue());
        return h;
    }

    /** Runs a destination on {@code stream}; returns what it wrote on the return path. */
    private static byte[] replyTo(byte[] stream) {
        ByteArrayOutputStream replies = new ByteArrayOutputStream();
        FrameReader in = new FrameReader(Channels.newChannel(new ByteArrayInputStream(stream)), "stream from test");
        assertThatThrownBy(() -> new StreamLoader(in, Channels.newChannel(replies), StreamFormat.KNOWN_CAPABILITIES,
                new IncomingStats()).load()).isInstanceOf(StreamFormatException.class);
        return replies.toByteArray();
    }

    /**
     * A destination that refused the source's header answered with a bare ERROR frame: the source, reading a stream
     * header first, reported "bad magic 0x4300..." instead of the reason. The header goes first, then the ERROR.
     */
    @Test
    void aRefusedStreamHeaderIsAnsweredWithAHeaderAndTheReason() throws Exception {
        byte[] reply = replyTo(headerOfVersion(2));

        FrameReader back = new FrameReader(Channels.newChannel(new ByteArrayInputStream(reply)), "return path");
        back.readHeader();
        assertThat(back.next()).isEqualTo(dev.ferry.stream.FrameType.ERROR);
        assertThat(Records.Reason.read(back.payload()).text()).contains("stream version 2 is not supported");
        assertThat(back.next()).isNull();

        // What the source says, reading that reply.
        assertThat(sourceReading(reply)).isInstanceOf(StreamSink.DestinationException.class)
                .hasMessage("destination test refused the migration: stream from test: stream version 2 is not"
                        + " supported (this Ferry reads version 1)");
    }

    /** What a source's {@link StreamSink#open} throws when its destination replies {@code reply}. */
    private static Throwable sourceReading(byte[] reply) {
        StreamSink sink = new StreamSink(Channels.newChannel(new ByteArrayOutputStream()),
                Channels.newChannel(new ByteArrayInputStream(reply)), "destination test");
        Records.Setup setup = new Records.Setup(new dev.ferry.guest.GuestDescriptor("inprocess", Map.of()),
                List.of(new Records.BlockInfo("ram", 0, 4096, 4096)));
        try {
            sink.open(setup, 0);
            throw new AssertionError("the source accepted " + reply.length + " bytes of reply");
        } catch (java.io.IOException e) {
            return e;
        } finally {
            sink.close();
        }
    }

    /** A destination's reason of a thousand characters went to the source's terminal whole: it is cut, saying so. */
    @Test
    void anOverlongErrorReasonIsCutWhenTheSourceShowsIt() throws Exception {
        ByteArrayOutputStream reply = new ByteArrayOutputStream();
        reply.write(StreamHeader.encode().array());
        dev.ferry.stream.FrameBuffer f = new dev.ferry.stream.FrameBuffer(Records.MAX_TEXT + 2);
        new Records.Reason("x".repeat(1000)).write(f, dev.ferry.stream.FrameType.ERROR);
        ByteBuffer frame = f.finish();
        byte[] bytes = new byte[frame.remaining()];
        frame.get(bytes);
        reply.write(bytes);
        assertThat(sourceReading(reply.toByteArray())).isInstanceOf(StreamSink.DestinationException.class)
                .hasMessage("destination test refused the migration: " + "x".repeat(Records.MAX_REASON_SHOWN)
                        + "... (" + (1000 - Records.MAX_REASON_SHOWN) + " more characters)");
    }
}
