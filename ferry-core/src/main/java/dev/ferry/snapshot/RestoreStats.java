/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.snapshot;

import java.util.LinkedHashMap;
import java.util.Map;

/** What a restore read and how long it took; filled by the loader, read by the command. */
public final class RestoreStats {
    private final long startNanos = System.nanoTime();
    volatile String format;
    volatile long fileSize;
    volatile long ramSize;
    volatile long pagesRead;
    volatile long zeroPages;
    volatile long bytesRead;
    volatile long readNanos = -1;
    volatile long loadNanos = -1;
    volatile int readThreads;
    volatile boolean directIo;
    volatile Map<String, Object> stream;

    /** Time from the start of the restore until the guest was loaded and verified, in ms (-1 before). */
    public double loadMillis() {
        return loadNanos < 0 ? -1 : loadNanos / 1e6;
    }

    public long bytesRead() {
        return bytesRead;
    }

    public long ramSize() {
        return ramSize;
    }

    void loaded() {
        loadNanos = System.nanoTime() - startNanos;
    }

    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("format", format);
        m.put("file-size", fileSize);
        m.put("ram-size", ramSize);
        if ("mapped-ram".equals(format)) {
            m.put("pages-read", pagesRead);
            m.put("zero-pages", zeroPages);
            m.put("direct-io", directIo);
            m.put("read-threads", readThreads);
            if (readNanos >= 0) {
                m.put("read-ms", Math.round(readNanos / 1e3) / 1e3);
            }
        }
        m.put("bytes-read", bytesRead);
        if (loadNanos >= 0) {
            m.put("load-ms", Math.round(loadNanos / 1e3) / 1e3);
            m.put("mb-per-s", loadNanos == 0 ? 0 : Math.round(bytesRead / (loadNanos / 1e9) / 1e6 * 10) / 10.0);
        }
        if (stream != null) {
            m.put("stream", stream);
        }
        return m;
    }
}
