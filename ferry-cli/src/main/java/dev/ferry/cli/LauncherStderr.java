/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.cli;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Puts the process's real stderr back in place when the {@code ferry} launcher started the JVM with its stderr
 * through a filter (which drops the JVM's notice that it uses the incubating Vector API module): the launcher
 * keeps the real stderr as the descriptor named by {@code FERRY_STDERR_FD}, and this makes it descriptor 2 again
 * ({@code dup2}), so that everything Ferry and the JVM print from here on goes straight to it and the filter ends.
 * Without the variable (Ferry run by hand, or in tests) nothing happens; if anything fails, stderr stays on the
 * filter, which passes it all on.
 */
final class LauncherStderr {
    private static final String VARIABLE = "FERRY_STDERR_FD";

    private LauncherStderr() {
    }

    static void restore() {
        String value = System.getenv(VARIABLE);
        if (value == null || !value.matches("[3-9]|[1-9][0-9]{1,3}")
                || !LauncherStderr.class.getModule().isNativeAccessEnabled()) {
            return;
        }
        int fd = Integer.parseInt(value);
        try {
            Linker linker = Linker.nativeLinker();
            MethodHandle dup2 = linker.downcallHandle(linker.defaultLookup().find("dup2").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
            MethodHandle close = linker.downcallHandle(linker.defaultLookup().find("close").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
            System.err.flush();
            if ((int) dup2.invokeExact(fd, 2) == 2) {
                int ignored = (int) close.invokeExact(fd);
            }
        } catch (Throwable e) {
            // stderr stays on the launcher's filter, which passes everything on
        }
    }
}
