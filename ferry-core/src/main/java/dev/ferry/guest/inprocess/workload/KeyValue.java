/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.guest.inprocess.workload;

import dev.ferry.guest.GuestCheck;
import dev.ferry.guest.GuestException;
import dev.ferry.guest.inprocess.GuestRam;
import dev.ferry.guest.inprocess.VCpuMemory;
import dev.ferry.guest.inprocess.device.NetDevice;
import dev.ferry.guest.inprocess.device.Resp;
import dev.ferry.memory.Pages;
import dev.ferry.util.Options;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * A key-value service speaking the Redis protocol, whose table lives in guest memory and whose clients reach it
 * through the guest's {@link NetDevice} on {@code port}: a guest with real external output. vCPU 0 serves; the
 * others idle.
 *
 * <pre>
 * Table, from guest address {@code at}:
 *   header page   u64 used slots, u64 tombstones (little-endian)
 *   slots         512 bytes each, open addressing with linear probing:
 *     0  u8  state (0 empty, 1 used, 2 deleted)
 *     2  u16 key length
 *     4  u32 value length
 *     8  u64 hash of the key
 *    16  key bytes, then value bytes (at most 496 together)
 * </pre>
 *
 * Invariant (the check): the header's counts equal the slots', every used slot's hash is its key's and it is
 * reachable from its home slot without crossing an empty one, no key appears twice; RAM outside the table is zero.
 */
final class KeyValue extends Workload {
    static final int SLOT = 512;
    static final int SLOT_HEADER = 16;
    static final int MAX_DATA = SLOT - SLOT_HEADER;
    private static final int EMPTY = 0;
    private static final int USED = 1;
    private static final int DELETED = 2;
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED;

    private final long at;
    private final long slots;
    private final NetDevice device;
    private final Server server;

    KeyValue(GuestRam ram, int vcpus, long seed, Options o) {
        super(ram, vcpus, seed);
        long port = o.integer("port", 6379);
        String host = o.string("host", "127.0.0.1");
        at = o.size("at", 0);
        o.requireAllUsed("port, host, at");
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("kv: port must be between 1 and 65535: " + port);
        }
        try {
            java.net.InetAddress.getByName(host); // before the guest runs: a destination refuses it before handover
        } catch (java.net.UnknownHostException e) {
            throw new IllegalArgumentException("kv: unknown host " + host);
        }
        if (at < 0 || (at & (Pages.SIZE - 1)) != 0 || at + Pages.SIZE + SLOT * 64L > ram.size()) {
            throw new IllegalArgumentException("kv: the table at " + at + " needs a page-aligned start and at least"
                    + " 36 KiB of guest RAM");
        }
        slots = (ram.size() - at - Pages.SIZE) / SLOT;
        device = new NetDevice(host, (int) port);
        server = new Server();
    }

    @Override
    public String name() {
        return "kv";
    }

    @Override
    public NetDevice device() {
        return device;
    }

    @Override
    public VCpuProgram program(int vcpu) {
        return vcpu == 0 ? server : new IdleProgram();
    }

    private long slotAddress(long s) {
        return at + Pages.SIZE + s * SLOT;
    }

    static long hash(byte[] key) {
        long h = 0xcbf29ce484222325L;
        for (byte b : key) {
            h = (h ^ (b & 0xff)) * 0x100000001b3L;
        }
        return Mix.mix(h);
    }

    @Override
    public GuestCheck check() {
        GuestCheck outside = checkZeroOutside(at, slotAddress(slots));
        if (outside != null) {
            return outside;
        }
        long used = 0;
        long deleted = 0;
        Set<String> keys = new HashSet<>();
        byte[] slot = new byte[SLOT];
        MemorySegment view = MemorySegment.ofArray(slot);
        for (long s = 0; s < slots; s++) {
            read(slotAddress(s), slot);
            int state = slot[0];
            if (state == EMPTY) {
                continue;
            }
            if (state == DELETED) {
                deleted++;
                continue;
            }
            if (state != USED) {
                return GuestCheck.fail("kv: slot " + s + " has state " + state);
            }
            used++;
            int keyLen = Short.toUnsignedInt(view.get(ValueLayout.JAVA_SHORT_UNALIGNED, 2));
            long valLen = Integer.toUnsignedLong(view.get(ValueLayout.JAVA_INT_UNALIGNED, 4));
            if (keyLen + valLen > MAX_DATA) {
                return GuestCheck.fail("kv: slot " + s + " holds " + (keyLen + valLen) + " bytes, more than a slot");
            }
            byte[] key = Arrays.copyOfRange(slot, SLOT_HEADER, SLOT_HEADER + keyLen);
            long h = hash(key);
            if (view.get(LONG, 8) != h) {
                return GuestCheck.fail("kv: slot " + s + "'s hash does not match its key");
            }
            for (long p = Math.floorMod(h, slots); p != s; p = (p + 1) % slots) {
                if (stateOf(p) == EMPTY) {
                    return GuestCheck.fail("kv: key in slot " + s + " is unreachable: empty slot " + p
                            + " lies on its probe path");
                }
            }
            if (!keys.add(new String(key, StandardCharsets.ISO_8859_1))) {
                return GuestCheck.fail("kv: a key appears twice (slot " + s + ")");
            }
        }
        long headerUsed = ram.segment(at).get(LONG, at - ram.blockStart(ram.blockOf(at)));
        long headerDeleted = ram.segment(at).get(LONG, at - ram.blockStart(ram.blockOf(at)) + 8);
        if (headerUsed != used || headerDeleted != deleted) {
            return GuestCheck.fail("kv: header counts " + headerUsed + " used and " + headerDeleted
                    + " deleted, the slots " + used + " and " + deleted);
        }
        return GuestCheck.pass("kv: " + used + " keys in " + slots + " slots, consistent; the rest of RAM is zero");
    }

    private int stateOf(long s) {
        return ram.readByte(slotAddress(s));
    }

    private void read(long gpa, byte[] into) {
        int b = ram.blockOf(gpa);
        MemorySegment.copy(ram.blocks().get(b).memory(), ValueLayout.JAVA_BYTE, gpa - ram.blockStart(b), into, 0,
                into.length);
    }

    @Override
    public Map<String, Object> counters() {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("commands", server.commandsDone);
        c.put("keys", server.keysDone);
        c.put("connections", device.connectionsAccepted());
        c.put("output-held-bytes", device.heldBytes());
        c.put("output-released-bytes", device.releasedBytes());
        return c;
    }

    /** vCPU 0: takes requests from the device, runs them against the table, answers through the device. */
    private final class Server implements VCpuProgram {
        private final byte[] slot = new byte[SLOT];
        private long commands;
        volatile long commandsDone;
        volatile long keysDone;

        @Override
        public void step(VCpuMemory memory) {
            NetDevice.Request r = device.poll();
            if (r == null) {
                // Nothing to do: sleep until a request arrives (the device wakes this thread) or a pause does.
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
                return;
            }
            byte[] reply = execute(r.args(), memory);
            if (reply == QUIT) {
                device.replyAndClose(r.connection(), Resp.OK);
            } else {
                device.reply(r.connection(), reply);
            }
            commandsDone = ++commands;
            keysDone = used(memory);
        }

        private static final byte[] QUIT = new byte[0];

        private byte[] execute(byte[][] a, VCpuMemory m) {
            String cmd = new String(a[0], StandardCharsets.US_ASCII).toUpperCase(Locale.ROOT);
            try {
                return switch (cmd) {
                    case "PING" -> a.length > 1 ? Resp.bulk(a[1]) : Resp.simple("PONG");
                    case "ECHO" -> arity(a, 2) ? Resp.bulk(a[1]) : wrongArgs(cmd);
                    case "SET" -> a.length >= 3 ? set(m, a[1], a[2]) : wrongArgs(cmd);
                    case "GET" -> arity(a, 2) ? get(m, a[1]) : wrongArgs(cmd);
                    case "DEL" -> a.length >= 2 ? Resp.integer(delete(m, a)) : wrongArgs(cmd);
                    case "EXISTS" -> a.length >= 2 ? Resp.integer(exists(m, a)) : wrongArgs(cmd);
                    case "INCR" -> arity(a, 2) ? incr(m, a[1]) : wrongArgs(cmd);
                    case "DBSIZE" -> Resp.integer(used(m));
                    case "SELECT" -> Resp.OK;
                    case "CONFIG" -> a.length == 3 ? config(a[2]) : Resp.EMPTY_ARRAY;
                    case "COMMAND" -> Resp.EMPTY_ARRAY;
                    case "CLIENT" -> Resp.OK;
                    case "INFO" -> Resp.bulk(("# Server\r\nferry_kv:1\r\nkeys:" + used(m) + "\r\n")
                            .getBytes(StandardCharsets.US_ASCII));
                    case "QUIT" -> QUIT;
                    default -> Resp.error("ERR unknown command '" + printable(a[0]) + "'");
                };
            } catch (TableFullException e) {
                return Resp.error("ERR table full: " + slots + " slots");
            }
        }

        /** CONFIG GET: the parameter with an empty value (redis-benchmark asks for "save" and "appendonly"). */
        private byte[] config(byte[] parameter) {
            byte[] name = Resp.bulk(parameter);
            byte[] empty = Resp.bulk(new byte[0]);
            byte[] out = new byte[4 + name.length + empty.length];
            System.arraycopy("*2\r\n".getBytes(StandardCharsets.US_ASCII), 0, out, 0, 4);
            System.arraycopy(name, 0, out, 4, name.length);
            System.arraycopy(empty, 0, out, 4 + name.length, empty.length);
            return out;
        }

        private boolean arity(byte[][] a, int n) {
            return a.length == n;
        }

        private byte[] wrongArgs(String cmd) {
            return Resp.error("ERR wrong number of arguments for '" + cmd.toLowerCase(Locale.ROOT) + "' command");
        }

        private long header(VCpuMemory m, int field) {
            return m.getLong(at + field * 8L);
        }

        private long used(VCpuMemory m) {
            return header(m, 0);
        }

        /** The slot holding {@code key}, or -(insertion slot) - 1. */
        private long find(VCpuMemory m, byte[] key, long h) throws TableFullException {
            long firstDeleted = -1;
            long s = Math.floorMod(h, slots);
            for (long probes = 0; probes < slots; probes++, s = (s + 1) % slots) {
                long addr = slotAddress(s);
                int state = m.getByte(addr);
                if (state == EMPTY) {
                    return -(firstDeleted >= 0 ? firstDeleted : s) - 1;
                }
                if (state == DELETED) {
                    if (firstDeleted < 0) {
                        firstDeleted = s;
                    }
                    continue;
                }
                if (m.getLong(addr + 8) == h) {
                    m.getBytes(addr, slot, 0, SLOT_HEADER + key.length);
                    int keyLen = (slot[2] & 0xff) | (slot[3] & 0xff) << 8;
                    if (keyLen == key.length && Arrays.equals(slot, SLOT_HEADER, SLOT_HEADER + keyLen, key, 0,
                            keyLen)) {
                        return s;
                    }
                }
            }
            if (firstDeleted >= 0) {
                return -firstDeleted - 1;
            }
            throw new TableFullException();
        }

        private byte[] set(VCpuMemory m, byte[] key, byte[] value) throws TableFullException {
            if (key.length + value.length > MAX_DATA) {
                return Resp.error("ERR key and value longer than " + MAX_DATA + " bytes together");
            }
            long h = hash(key);
            long s = find(m, key, h);
            if (s < 0) {
                s = -s - 1;
                int state = m.getByte(slotAddress(s));
                if (state == EMPTY && used(m) + header(m, 1) + 1 > slots * 9 / 10) {
                    throw new TableFullException();
                }
                m.putLong(at, used(m) + 1);
                if (state == DELETED) {
                    m.putLong(at + 8, header(m, 1) - 1);
                }
            }
            write(m, s, key, value, h);
            return Resp.OK;
        }

        private void write(VCpuMemory m, long s, byte[] key, byte[] value, long h) {
            Arrays.fill(slot, (byte) 0);
            MemorySegment v = MemorySegment.ofArray(slot);
            slot[0] = USED;
            v.set(ValueLayout.JAVA_SHORT_UNALIGNED, 2, (short) key.length);
            v.set(ValueLayout.JAVA_INT_UNALIGNED, 4, value.length);
            v.set(LONG, 8, h);
            System.arraycopy(key, 0, slot, SLOT_HEADER, key.length);
            System.arraycopy(value, 0, slot, SLOT_HEADER + key.length, value.length);
            m.putBytes(slotAddress(s), slot, 0, SLOT_HEADER + key.length + value.length);
        }

        private byte[] value(VCpuMemory m, long s) {
            m.getBytes(slotAddress(s), slot, 0, SLOT);
            MemorySegment v = MemorySegment.ofArray(slot);
            int keyLen = Short.toUnsignedInt(v.get(ValueLayout.JAVA_SHORT_UNALIGNED, 2));
            int valLen = v.get(ValueLayout.JAVA_INT_UNALIGNED, 4);
            return Arrays.copyOfRange(slot, SLOT_HEADER + keyLen, SLOT_HEADER + keyLen + valLen);
        }

        private byte[] get(VCpuMemory m, byte[] key) throws TableFullException {
            long s = find(m, key, hash(key));
            return s < 0 ? Resp.NULL_BULK : Resp.bulk(value(m, s));
        }

        private long delete(VCpuMemory m, byte[][] a) throws TableFullException {
            long n = 0;
            for (int i = 1; i < a.length; i++) {
                long s = find(m, a[i], hash(a[i]));
                if (s >= 0) {
                    m.putBytes(slotAddress(s), new byte[] {DELETED}, 0, 1);
                    m.putLong(at, used(m) - 1);
                    m.putLong(at + 8, header(m, 1) + 1);
                    n++;
                }
            }
            return n;
        }

        private long exists(VCpuMemory m, byte[][] a) throws TableFullException {
            long n = 0;
            for (int i = 1; i < a.length; i++) {
                if (find(m, a[i], hash(a[i])) >= 0) {
                    n++;
                }
            }
            return n;
        }

        private byte[] incr(VCpuMemory m, byte[] key) throws TableFullException {
            long h = hash(key);
            long s = find(m, key, h);
            long v = 0;
            if (s >= 0) {
                try {
                    v = Long.parseLong(new String(value(m, s), StandardCharsets.US_ASCII));
                } catch (NumberFormatException e) {
                    return Resp.error("ERR value is not an integer or out of range");
                }
            }
            if (v == Long.MAX_VALUE) {
                return Resp.error("ERR increment or decrement would overflow");
            }
            set(m, key, Long.toString(v + 1).getBytes(StandardCharsets.US_ASCII));
            return Resp.integer(v + 1);
        }

        @Override
        public void save(StateWriter out) {
            out.putLong(commands);
        }

        @Override
        public void load(StateReader in) throws GuestException {
            commands = in.getLong("kv commands", 0, Long.MAX_VALUE);
            commandsDone = commands;
        }
    }

    private static String printable(byte[] b) {
        String s = new String(b, 0, Math.min(b.length, 64), StandardCharsets.UTF_8);
        return s.replaceAll("[^\\x20-\\x7e]", "?");
    }

    private static final class TableFullException extends Exception {
        TableFullException() {
            super(null, null, false, false);
        }
    }

    /** The vCPUs other than the server's: nothing to do. */
    private static final class IdleProgram implements VCpuProgram {
        @Override
        public void step(VCpuMemory memory) {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
        }

        @Override
        public void save(StateWriter out) {
        }

        @Override
        public void load(StateReader in) {
        }
    }
}
