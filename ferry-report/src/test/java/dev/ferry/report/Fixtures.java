/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.report;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import javax.xml.XMLConstants;
import javax.xml.parsers.DocumentBuilder;
import javax.xml.parsers.DocumentBuilderFactory;
import org.w3c.dom.Document;

/**
 * Recorded statistics, as the real commands wrote them (src/test/resources/stats):
 * <ul>
 * <li>{@code completed-forced.json}: a whole {@code --stats-json} file; 256 MiB memtest at 50 MiB/s, policy
 *     {@code downtime,timeout=8s,on-timeout=force}: 6 rounds, forced to completion, 2 s of downtime.
 * <li>{@code converged.json}: a whole file; the same guest dirtying 10,000 pages/s ({@code --rate 10000}), policy
 *     {@code downtime}: 9 rounds shrinking until the rest fits in 300 ms (the example in docs/reports.md).
 * <li>{@code aborted.json}: a whole file; the same guest with {@code on-timeout=abort} after 5 s: cancelled.
 * <li>{@code auto-converge-bare.json}: only the migration map; with {@code --auto-converge}: 12 rounds, vCPU throttle
 *     rising from 20 % to 60 %.
 * <li>{@code failed-to-connect.json}: a whole file; nothing listened at the destination: no round, no timeline.
 * </ul>
 */
final class Fixtures {
    static final ObjectMapper JSON = new ObjectMapper();

    private Fixtures() {
    }

    /** The whole file as read. */
    @SuppressWarnings("unchecked")
    static Map<String, Object> file(String name) {
        try (InputStream in = Fixtures.class.getResourceAsStream("/stats/" + name + ".json")) {
            if (in == null) {
                throw new IllegalStateException("no fixture " + name);
            }
            return JSON.readValue(in, LinkedHashMap.class);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The migration's statistics in it. */
    static Map<String, Object> migration(String name) {
        return MigrationReport.migrationOf(file(name));
    }

    /** An XML parser that never reaches for a DTD or an entity on the network. */
    static Document parseXml(byte[] xml) throws Exception {
        DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        f.setNamespaceAware(true);
        f.setFeature("http://apache.org/xml/features/nonvalidating/load-external-dtd", false);
        f.setFeature(XMLConstants.FEATURE_SECURE_PROCESSING, true);
        f.setAttribute(XMLConstants.ACCESS_EXTERNAL_DTD, "");
        f.setAttribute(XMLConstants.ACCESS_EXTERNAL_SCHEMA, "");
        DocumentBuilder b = f.newDocumentBuilder();
        b.setErrorHandler(null);
        return b.parse(new ByteArrayInputStream(xml));
    }

    /** How many different RGB colours the image has (a blank or failed render has one or two). */
    static int distinctColours(BufferedImage image) {
        Set<Integer> colours = new HashSet<>();
        for (int y = 0; y < image.getHeight(); y++) {
            for (int x = 0; x < image.getWidth(); x++) {
                colours.add(image.getRGB(x, y) & 0xFFFFFF);
            }
        }
        return colours.size();
    }

    /** How many pixels have exactly this RGB colour. */
    static int pixelsOf(BufferedImage image, int rgb) {
        int n = 0;
        for (int y = 0; y < image.getHeight(); y++) {
            for (int x = 0; x < image.getWidth(); x++) {
                if ((image.getRGB(x, y) & 0xFFFFFF) == rgb) {
                    n++;
                }
            }
        }
        return n;
    }
}
