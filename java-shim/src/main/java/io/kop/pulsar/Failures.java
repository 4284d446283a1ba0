package io.kop.pulsar;

import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import org.apache.bookkeeper.mledger.ManagedLedgerException;
import org.apache.pulsar.broker.service.BrokerServiceException;
import org.apache.pulsar.client.admin.PulsarAdminException;

/**
 * The one table that turns a broker failure into a failure kind of the core (and so into one
 * Kafka error code, chosen in the core's {@code protocol/errors.rs}). Failures are matched by
 * exception type, after unwrapping the futures' wrappers; the first row that matches wins.
 */
final class Failures {
    private record Row(Class<? extends Throwable> type, int kind) {
    }

    private static final List<Row> TABLE = List.of(
        // A terminated topic takes no more writes, ever: not a reason to retry.
        new Row(BrokerServiceException.TopicTerminatedException.class, NativeCore.TERMINATED),
        new Row(ManagedLedgerException.ManagedLedgerTerminatedException.class, NativeCore.TERMINATED),
        // The topic moved (bundle unloaded, broker shutting down): the client finds the new owner.
        new Row(BrokerServiceException.TopicFencedException.class, NativeCore.NOT_OWNER),
        new Row(BrokerServiceException.TopicClosedException.class, NativeCore.NOT_OWNER),
        new Row(BrokerServiceException.TopicMigratedException.class, NativeCore.NOT_OWNER),
        new Row(BrokerServiceException.ServiceUnitNotReadyException.class, NativeCore.NOT_OWNER),
        new Row(ManagedLedgerException.ManagedLedgerFencedException.class, NativeCore.NOT_OWNER),
        new Row(ManagedLedgerException.ManagedLedgerAlreadyClosedException.class, NativeCore.NOT_OWNER),
        new Row(ManagedLedgerException.CursorAlreadyClosedException.class, NativeCore.NOT_OWNER),
        new Row(BrokerServiceException.TopicNotFoundException.class, NativeCore.UNKNOWN_TOPIC),
        new Row(ManagedLedgerException.ManagedLedgerNotFoundException.class, NativeCore.UNKNOWN_TOPIC),
        new Row(PulsarAdminException.NotFoundException.class, NativeCore.UNKNOWN_TOPIC),
        new Row(PulsarAdminException.ConflictException.class, NativeCore.TOPIC_EXISTS),
        new Row(PulsarAdminException.PreconditionFailedException.class, NativeCore.INVALID),
        new Row(PulsarAdminException.NotAllowedException.class, NativeCore.INVALID),
        new Row(IllegalArgumentException.class, NativeCore.INVALID));

    private Failures() {
    }

    /** The failure under the futures' wrappers. */
    static Throwable unwrap(Throwable error) {
        Throwable e = error;
        while ((e instanceof CompletionException || e instanceof ExecutionException) && e.getCause() != null) {
            e = e.getCause();
        }
        return e;
    }

    /** The kind of a failure of any broker call; anything not in the table is a storage error. */
    static int kind(Throwable error) {
        Throwable e = unwrap(error);
        for (Row row : TABLE) {
            if (row.type().isInstance(e)) {
                return row.kind();
            }
        }
        return NativeCore.STORAGE;
    }

    /**
     * The kind of a failed publish. There the broker's {@code NotAllowedException} means the
     * entry is over its size limit ({@code maxMessageSize} or a namespace policy): a Kafka
     * MESSAGE_TOO_LARGE, which no retry cures.
     */
    static int publishKind(Throwable error) {
        if (unwrap(error) instanceof BrokerServiceException.NotAllowedException) {
            return NativeCore.TOO_LARGE;
        }
        return kind(error);
    }

    /** Completes {@code call} as failed with the kind {@link #kind} gives. */
    static void fail(long call, Throwable error) {
        report(call, kind(error), error);
    }

    static void report(long call, int kind, Throwable error) {
        Throwable e = unwrap(error);
        NativeCore.fail(call, kind, e.getClass().getSimpleName() + ": " + e.getMessage());
    }
}
