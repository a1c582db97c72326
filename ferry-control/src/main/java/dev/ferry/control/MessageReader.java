/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.control;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * The JSON messages of one connection, read one after the other (QMP needs no newline between them), each at most
 * {@link QmpServer#MAX_MESSAGE_BYTES} long, blanks before it included: a longer one (an endless line, an endless
 * string, garbage) is refused before more of it is read, so that a peer never makes us hold more than that.
 */
final class MessageReader implements AutoCloseable {
    /** A message went on past the bound. */
    static final class TooLong extends IOException {
        TooLong(long start) {
            super("a QMP message must end within " + QmpServer.MAX_MESSAGE_BYTES + " bytes; the one from byte " + start
                    + " of the connection goes on past that");
        }
    }

    private final Bound in;
    private final MappingIterator<JsonNode> values;

    MessageReader(InputStream stream) throws IOException {
        this.in = new Bound(stream);
        this.values = QmpServer.JSON.readerFor(JsonNode.class).readValues(in);
    }

    /** The next message, or null at the end of the input. */
    JsonNode next() throws IOException {
        if (!values.hasNextValue()) {
            return null;
        }
        JsonNode m = values.nextValue();
        in.start = values.getParser().currentLocation().getByteOffset();
        return m;
    }

    @Override
    public void close() throws IOException {
        values.close();
    }

    /**
     * Counts the bytes handed to the parser. The parser asks for more only once it has used all it was given, so
     * what it was given since the last message ended is what the current message (and the blanks before it) took.
     */
    private static final class Bound extends FilterInputStream {
        long given;
        long start;

        Bound(InputStream in) {
            super(in);
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            long room = QmpServer.MAX_MESSAGE_BYTES - (given - start);
            if (room <= 0) {
                throw new TooLong(start);
            }
            int n = super.read(b, off, (int) Math.min(len, room));
            if (n > 0) {
                given += n;
            }
            return n;
        }
    }
}
