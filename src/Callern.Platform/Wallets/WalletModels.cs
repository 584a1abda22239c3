namespace Callern.Platform.Wallets;

/// <summary>One credit of seconds with its own expiry; consumption takes the earliest-expiring lot first.</summary>
public sealed record WalletLot(
    Guid Id, LotSource Source, long GrantedSeconds, long RemainingSeconds, long HeldSeconds,
    DateTimeOffset? ExpiresAt, DateTimeOffset CreatedAt);

public enum LotSource { Purchase, Adjustment }

/// <summary>
/// A student's balance. <c>availableSeconds</c> can be spent on a new call; <c>heldSeconds</c> are
/// reserved by calls in progress. <c>lots</c> are the credits not yet used up or expired.
/// </summary>
public sealed record WalletBalance(
    string StudentId, long AvailableSeconds, long HeldSeconds, long ExpiringWithin7DaysSeconds,
    IReadOnlyList<WalletLot> Lots);

public enum LedgerEntryKind { Purchase, Adjustment, Hold, Release, Charge, Expiry }

/// <summary>
/// One ledger entry. The balance is the sum of the deltas: <c>availableSeconds</c> = Σ
/// <c>availableDeltaSeconds</c>, <c>heldSeconds</c> = Σ <c>heldDeltaSeconds</c>. <c>sourceId</c> is
/// the purchase or adjustment that caused the entry, <c>callId</c> the call of a hold, charge or release.
/// </summary>
public sealed record LedgerEntry(
    long Id, LedgerEntryKind Kind, long AvailableDeltaSeconds, long HeldDeltaSeconds, Guid? LotId, Guid? CallId, Guid? SourceId,
    DateTimeOffset CreatedAt);

/// <summary>A purchase the school recorded: the package's terms as they were when it was bought.</summary>
public sealed record Purchase(
    Guid Id, string StudentId, Guid PackageId, string PackageName, long Seconds, decimal Price, string Currency,
    string PaymentReference, Guid LotId, DateTimeOffset? ExpiresAt, DateTimeOffset PurchasedAt);

/// <summary>The school pays for a package: body of POST /v1/students/{id}/wallet/purchases.</summary>
public sealed record PurchaseRequest(Guid? PackageId, string? PaymentReference);

/// <summary>
/// A manual change by an admin. Positive <c>seconds</c> grant (a goodwill credit, a call that went
/// wrong), negative ones debit (the school refunded money). <c>validityDays</c> gives a grant an expiry.
/// </summary>
public sealed record AdjustmentRequest(long? Seconds, string? Reason, int? ValidityDays);

public sealed record Adjustment(
    Guid Id, string StudentId, long Seconds, string Reason, Guid? LotId, DateTimeOffset? ExpiresAt, DateTimeOffset CreatedAt);

public enum HoldState { Active, Settled, Released }

/// <summary>A lot reached its expiry with <paramref name="Seconds"/> unspent: they left the wallet (the <c>wallet.expired</c> event).</summary>
public sealed record LotExpired(string StudentId, Guid LotId, long Seconds, DateTimeOffset ExpiredAt);

/// <summary>
/// A call's hold. While active, <c>heldSeconds</c> are reserved for the call; once settled,
/// <c>chargedSeconds</c> were charged and <c>releasedSeconds</c> returned (or expired, when their
/// lot expired during the call).
/// </summary>
public sealed record CallHold(
    Guid CallId, string StudentId, HoldState State, long HeldSeconds, long ChargedSeconds, long ReleasedSeconds,
    string? TeacherId, DateTimeOffset CreatedAt, DateTimeOffset? EndedAt);

/// <summary>Seconds a teacher taught in one settled call.</summary>
public sealed record EarningEntry(Guid CallId, string TeacherId, string StudentId, long Seconds, DateTimeOffset EarnedAt);

public sealed record EarningsSummary(string TeacherId, DateTimeOffset? From, DateTimeOffset? To, long Seconds, long Calls);

public sealed record TeacherEarnings(string TeacherId, long Seconds, long Calls);

/// <summary>Seconds taught per teacher in [from, to).</summary>
public sealed record EarningsReport(DateTimeOffset From, DateTimeOffset To, IReadOnlyList<TeacherEarnings> Teachers);

public sealed record CurrencyRevenue(string Currency, decimal Amount, long Purchases, long Seconds);

/// <summary>Purchases in [from, to), summed per currency: amounts in different currencies are never added together.</summary>
public sealed record RevenueReport(DateTimeOffset From, DateTimeOffset To, IReadOnlyList<CurrencyRevenue> Currencies);
