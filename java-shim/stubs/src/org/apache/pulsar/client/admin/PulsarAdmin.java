package org.apache.pulsar.client.admin;

/** Compile-only stub (pulsar-client-admin-api/src/main/java/org/apache/pulsar/client/admin/PulsarAdmin.java). */
public interface PulsarAdmin {
    // source: pulsar-client-admin-api/src/main/java/org/apache/pulsar/client/admin/PulsarAdmin.java
    Topics topics();
}
