package org.apache.pulsar.broker.authentication;

/**
 * Compile-only stub of the broker's authentication providers by method name
 * (pulsar-broker-common/src/main/java/org/apache/pulsar/broker/authentication/AuthenticationService.java).
 */
public class AuthenticationService {
    // source: pulsar-broker-common/src/main/java/org/apache/pulsar/broker/authentication/AuthenticationService.java
    public AuthenticationProvider getAuthenticationProvider(String authMethodName) {
        throw new UnsupportedOperationException("compile-only stub");
    }
}
