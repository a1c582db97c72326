/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.util;

import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;

/**
 * File errors in words. The JDK's {@link FileSystemException}s often carry only the path as their message
 * ({@code AccessDeniedException: /x/g.snap}), which tells a user where but not what.
 */
public final class FileErrors {
    private FileErrors() {
    }

    /** What went wrong: the operating system's reason when there is one, else one named after the exception. */
    public static String reason(FileSystemException e) {
        if (e.getReason() != null) {
            return e.getReason();
        }
        if (e instanceof AccessDeniedException) {
            return "permission denied";
        }
        if (e instanceof NoSuchFileException) {
            return "no such file or directory";
        }
        if (e instanceof FileAlreadyExistsException) {
            return "it already exists";
        }
        if (e instanceof NotDirectoryException) {
            return "not a directory";
        }
        if (e instanceof DirectoryNotEmptyException) {
            return "directory not empty";
        }
        return e.getClass().getSimpleName();
    }

    /** One line for a user: {@code FILE: reason} (and {@code -> OTHER} for a two-file operation). */
    public static String describe(FileSystemException e) {
        String file = e.getFile() != null ? e.getFile() : "(unknown file)";
        return file + (e.getOtherFile() != null ? " -> " + e.getOtherFile() : "") + ": " + reason(e);
    }
}
