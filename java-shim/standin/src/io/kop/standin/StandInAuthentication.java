package io.kop.standin;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import org.apache.pulsar.broker.authentication.AuthenticationDataSource;
import org.apache.pulsar.broker.authentication.AuthenticationProvider;
import org.apache.pulsar.broker.authentication.AuthenticationService;

/**
 * The stand-in's authentication service: with the property {@code standInTokens}
 * ({@code token=role,...}) it has a {@code token} provider that knows those tokens, as a Pulsar
 * broker with {@code AuthenticationProviderToken} knows the tokens its key signed; without it,
 * token authentication is not configured and there is no provider.
 */
final class StandInAuthentication extends AuthenticationService {
    /** Named like Pulsar's exception for rejected credentials. */
    static final class AuthenticationException extends Exception {
        private static final long serialVersionUID = 1L;

        AuthenticationException(String message) {
            super(message);
        }
    }

    private final AuthenticationProvider token;

    StandInAuthentication(String tokens, Executor io) {
        if (tokens == null) {
            token = null;
            return;
        }
        Map<String, String> roles = new HashMap<>();
        for (String item : tokens.split(",")) {
            int eq = item.indexOf('=');
            if (eq > 0) {
                roles.put(item.substring(0, eq), item.substring(eq + 1));
            }
        }
        token = new AuthenticationProvider() {
            @Override
            public CompletableFuture<String> authenticateAsync(AuthenticationDataSource data) {
                CompletableFuture<String> result = new CompletableFuture<>();
                io.execute(() -> {
                    String role = data.hasDataFromCommand() ? roles.get(data.getCommandData()) : null;
                    if (role == null) {
                        result.completeExceptionally(new AuthenticationException("Failed to authentication token"));
                    } else {
                        result.complete(role);
                    }
                });
                return result;
            }
        };
    }

    @Override
    public AuthenticationProvider getAuthenticationProvider(String authMethodName) {
        return "token".equals(authMethodName) ? token : null;
    }
}
