/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.snapshot;

import com.sun.nio.file.ExtendedOpenOption;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * Where a save goes, and the crash-safe protocol that puts it there.
 *
 * <p>A regular file (or a path that does not exist yet) is written as {@code FILE.partial} in the same directory,
 * completed (the footer or the COMPLETE record is written last; mapped-ram fsyncs everything before it), fsynced,
 * renamed over {@code FILE} in one atomic step, and the directory is fsynced. A save interrupted at any point
 * leaves at most a {@code .partial} file that no restore accepts, except in the window between the last write and
 * the rename (while the finished file is fsynced), where the partial file is already whole and verifiable; a
 * complete snapshot already at {@code FILE} stays untouched until the new one is complete. A symbolic link at
 * {@code FILE} is followed: the snapshot replaces the file it points to; one at {@code FILE.partial} is not (it is
 * removed and a regular file created in its place).
 *
 * <p>Anything else (a FIFO, a socket, a character or block device, /dev/stdout) cannot take a rename: a sequential
 * stream is written to it directly, and mapped-ram, which writes each page at a fixed offset, refuses it before
 * anything is written.
 */
public final class SaveTarget {
    /** Suffix of the file a save writes before it is complete. */
    public static final String PARTIAL_SUFFIX = ".partial";

    private final Path requested;
    private final Path target;
    private final Path partial;
    private final String kind;
    /** The partial file's identity once it is open, checked again before anything trusts the name. */
    private volatile Object partialKey;

    private SaveTarget(Path requested, Path target, Path partial, String kind) {
        this.requested = requested;
        this.target = target;
        this.partial = partial;
        this.kind = kind;
    }

    /**
     * Checks {@code path} as the target of a save.
     *
     * @param seekable whether the format writes at fixed offsets (mapped-ram)
     * @throws RefusedException when the target cannot take this kind of save (the message names it and why)
     */
    public static SaveTarget of(Path path, boolean seekable) throws IOException {
        String kind = kindOf(path);
        if (kind != null) {
            if (seekable) {
                throw new RefusedException("cannot save mapped-ram to " + path + ": it is " + kind + ", which cannot"
                        + " seek; mapped-ram writes every page at a fixed offset and needs a regular file");
            }
            if (kind.equals("a directory")) {
                throw new RefusedException("cannot save to " + path + ": it is a directory");
            }
            return new SaveTarget(path, path, null, kind);
        }
        Path target;
        if (Files.exists(path)) {
            target = path.toRealPath();
        } else if (Files.isSymbolicLink(path)) {
            throw new RefusedException("cannot save to " + path + ": it is a symbolic link to nothing ("
                    + Files.readSymbolicLink(path) + ")");
        } else {
            target = path.toAbsolutePath().normalize();
        }
        // The partial file is created, and renamed, in the target's directory: replacing an existing snapshot
        // needs a writable directory as much as writing a new one does.
        Path dir = target.getParent();
        if (dir == null || !Files.isDirectory(dir)) {
            throw new RefusedException("cannot save to " + path + ": directory " + dir + " does not exist");
        }
        if (!Files.isWritable(dir)) {
            throw new RefusedException("cannot save to " + path + ": directory " + dir + " is not writable");
        }
        return new SaveTarget(path, target, partialOf(target), null);
    }

    /** {@code FILE.partial}, beside {@code file}. */
    public static Path partialOf(Path file) {
        return file.resolveSibling(file.getFileName() + PARTIAL_SUFFIX);
    }

    /**
     * What {@code path} is when it is neither a regular file nor absent: "a FIFO (named pipe)", "a character device",
     * "a socket", "a block device", "a directory"; null for a regular file or a path that does not exist.
     */
    static String kindOf(Path path) throws IOException {
        if (!Files.exists(path)) {
            return null;
        }
        if (Files.isDirectory(path)) {
            return "a directory";
        }
        if (Files.isRegularFile(path)) {
            return null;
        }
        try {
            int mode = (Integer) Files.getAttribute(path, "unix:mode");
            return switch (mode & 0170000) {
                case 0010000 -> "a FIFO (pipe)";
                case 0020000 -> "a character device";
                case 0060000 -> "a block device";
                case 0140000 -> "a socket";
                default -> "not a regular file";
            };
        } catch (UnsupportedOperationException | IllegalArgumentException e) {
            return "not a regular file";
        }
    }

    /** Checks again, when the save starts, that the target has not become something that cannot seek. */
    void checkUnchanged() throws IOException {
        String now = kindOf(requested);
        if (now != null && kind == null) {
            throw new RefusedException("cannot save mapped-ram to " + requested + ": it is now " + now
                    + ", which cannot seek; mapped-ram needs a regular file");
        }
    }

    /** The path as the user gave it. */
    public Path requested() {
        return requested;
    }

    /** The file the snapshot ends up in (a symbolic link resolved). */
    public Path target() {
        return target;
    }

    /** The file written until the save is complete, or null when the target is written directly (not atomic). */
    public Path partial() {
        return partial;
    }

    /** Whether the save goes through {@code .partial} and a rename (the target is a regular file or new). */
    public boolean atomic() {
        return partial != null;
    }

    /** For a target written directly: what it is ("a FIFO (pipe)"); null otherwise. */
    public String kind() {
        return kind;
    }

    /**
     * Opens the file the save writes: {@code FILE.partial} (created or emptied, locked against a second save to the
     * same file), or the target itself when it is not a regular file.
     */
    public FileChannel openForWriting() throws IOException {
        if (!atomic()) {
            return FileChannel.open(target, StandardOpenOption.WRITE);
        }
        FileChannel ch;
        try {
            ch = openPartial();
        } catch (FileSystemException e) {
            throw new IOException("cannot create " + partial + ": " + dev.ferry.util.FileErrors.reason(e), e);
        }
        try {
            FileLock lock;
            try {
                lock = ch.tryLock();
            } catch (java.nio.channels.OverlappingFileLockException e) {
                lock = null; // this process is already saving to it
            }
            if (lock == null) {
                throw new RefusedException("another save to " + target + " is in progress (" + partial
                        + " is locked)");
            }
            ch.truncate(0);
            partialKey = fileKey(partial);
            return ch;
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /**
     * Opens {@code FILE.partial} without following a symbolic link there: a save never creates one, and writing
     * through it would overwrite whatever it points to (and the rename would then put the link at {@code FILE}). A
     * link found there is removed and the file created afresh; a regular partial file is opened as it is, so that
     * its lock still tells a second save that the first is running.
     */
    private FileChannel openPartial() throws IOException {
        for (int attempt = 0; ; attempt++) {
            try {
                return FileChannel.open(partial, StandardOpenOption.CREATE, StandardOpenOption.READ,
                        StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS);
            } catch (IOException e) { // ELOOP comes as a plain IOException
                if (attempt > 0 || !Files.isSymbolicLink(partial)) {
                    throw e;
                }
                Files.delete(partial);
            }
        }
    }

    /** The identity (device and inode) of {@code file} itself, a symbolic link not followed. */
    private static Object fileKey(Path file) throws IOException {
        return Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
    }

    /**
     * Opens the partial file a second time with {@code O_DIRECT}, for the page area. A file system that refuses it
     * gets a one-line error naming the file system.
     */
    public FileChannel openDirect() throws IOException {
        if (!atomic()) {
            throw new RefusedException("--direct-io needs a regular file; " + requested + " is " + kind);
        }
        int align = directAlignment(partial.getParent());
        if (align > dev.ferry.memory.Pages.SIZE) {
            throw new RefusedException("--direct-io: the file system of " + partial.getParent() + " has " + align
                    + "-byte blocks; O_DIRECT writes of single 4096-byte page slots would not be aligned");
        }
        FileChannel ch;
        try {
            ch = FileChannel.open(partial, StandardOpenOption.WRITE, ExtendedOpenOption.DIRECT,
                    LinkOption.NOFOLLOW_LINKS);
        } catch (FileSystemException | UnsupportedOperationException e) {
            throw directRefused(partial, e);
        }
        checkPartialUnchanged(ch);
        return ch;
    }

    /** The alignment O_DIRECT needs in {@code dir}'s file system: its block size, at least 4096. */
    public static int directAlignment(Path dir) throws IOException {
        long bs = Files.getFileStore(dir).getBlockSize();
        return (int) Math.max(dev.ferry.memory.Pages.SIZE, Math.min(bs, 1 << 20));
    }

    /** The one-line error for a file system that refuses O_DIRECT on {@code file}, when saving. */
    static RefusedException directRefused(Path file, Exception e) {
        return directRefused(file, e, "save");
    }

    /** The one-line error for a file system that refuses O_DIRECT on {@code file}; {@code verb} is "save" or "restore". */
    static RefusedException directRefused(Path file, Exception e, String verb) {
        String fs;
        try {
            fs = Files.getFileStore(file.getParent()).type();
        } catch (IOException | RuntimeException ignored) {
            fs = "unknown";
        }
        String why = e instanceof FileSystemException f && f.getReason() != null ? f.getReason() : e.getMessage();
        return new RefusedException("--direct-io: the file system of " + file.getParent() + " (" + fs
                + ") refuses O_DIRECT (" + why + "); " + verb + " without --direct-io"
                + ("save".equals(verb) ? " or to another file system" : ""));
    }

    /**
     * Checks, before a guest starts, that {@code --direct-io} can work in the target's directory: creates a probe
     * file there with O_DIRECT and deletes it. Nothing is written to the target.
     */
    public void probeDirect() throws IOException {
        if (!atomic()) {
            throw new RefusedException("--direct-io needs a regular file; " + requested + " is " + kind);
        }
        Path probe = target.resolveSibling("." + target.getFileName() + ".direct-probe-" + ProcessHandle.current().pid());
        try (FileChannel ignored = FileChannel.open(probe, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
                ExtendedOpenOption.DIRECT)) {
            // opening is the test
        } catch (FileSystemException | UnsupportedOperationException e) {
            throw directRefused(probe, e);
        } finally {
            Files.deleteIfExists(probe);
        }
        int align = directAlignment(target.getParent());
        if (align > dev.ferry.memory.Pages.SIZE) {
            throw new RefusedException("--direct-io: the file system of " + target.getParent() + " has " + align
                    + "-byte blocks; O_DIRECT writes of single 4096-byte page slots would not be aligned");
        }
    }

    /**
     * Makes the save visible: fsyncs {@code ch} (data and metadata), renames {@code FILE.partial} over
     * {@code FILE} in one step, and fsyncs the directory so that the rename survives a crash. For a target written
     * directly, only what can be flushed is flushed.
     */
    public void commit(FileChannel ch) throws IOException {
        if (!atomic()) {
            try {
                ch.force(true);
            } catch (IOException ignored) {
                // a pipe or a terminal cannot be synced; what was written has been handed over
            }
            return;
        }
        ch.force(true);
        checkPartialUnchanged(null);
        Files.move(partial, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        syncDirectory(target.getParent());
    }

    /**
     * Checks that {@code FILE.partial} is still the file this save created: something that replaced it meanwhile
     * (by another name, or with a link) must not be renamed over the target. {@code opened}, when given, is closed
     * if the check fails.
     */
    private void checkPartialUnchanged(FileChannel opened) throws IOException {
        Object now;
        try {
            now = fileKey(partial);
        } catch (NoSuchFileException e) {
            now = null;
        }
        if (partialKey == null || !partialKey.equals(now)) {
            if (opened != null) {
                opened.close();
            }
            throw new IOException(partial + " was replaced or removed while the save was writing it; " + target
                    + " is left as it was");
        }
    }

    /** Deletes the partial file of a save that did not complete (best effort). */
    public void discard() {
        if (atomic()) {
            try {
                Files.deleteIfExists(partial);
            } catch (IOException ignored) {
                // it stays, and no restore accepts it
            }
        }
    }

    /** fsync of a directory, so that a rename in it is durable (Linux allows opening a directory to read). */
    static void syncDirectory(Path dir) throws IOException {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (NoSuchFileException e) {
            throw e;
        } catch (IOException e) {
            // Some platforms cannot open a directory; the rename itself has happened.
            if (Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS) && e.getMessage() != null
                    && e.getMessage().contains("Is a directory")) {
                return;
            }
            throw e;
        }
    }

    /** A save that cannot be made as asked, refused before anything is written. */
    public static final class RefusedException extends IOException {
        public RefusedException(String message) {
            super(message);
        }
    }
}
