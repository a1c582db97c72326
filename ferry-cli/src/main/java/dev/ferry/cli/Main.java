/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.cli;

public final class Main {
    public static void main(String[] args) {
        System.out.println("ferry");
    }
}
