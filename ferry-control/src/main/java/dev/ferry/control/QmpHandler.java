/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.control;

import com.fasterxml.jackson.databind.node.ObjectNode;

/** Runs one command; returns what goes under {@code "return"} (a map, a list, or null for {@code {}}). */
@FunctionalInterface
public interface QmpHandler {
    Object handle(ObjectNode arguments) throws QmpError;
}
