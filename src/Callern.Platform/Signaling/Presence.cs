namespace Callern.Platform.Signaling;

/// <summary>On the wire in camelCase (available, away, offline), read case-insensitively, over REST and the hub alike.</summary>
public enum PresenceStatus
{
    Available,
    Away,
    Offline,
}

/// <summary>A teacher's status as every node sees it.</summary>
/// <param name="TeacherId">The school's own user id of the teacher.</param>
/// <param name="Status">What the teacher chose, or offline once the disconnect grace ran out.</param>
/// <param name="Connected">Whether the teacher holds a live hub connection now.</param>
/// <param name="ChangedAt">When the status last changed.</param>
/// <param name="LastSeenAt">Latest heartbeat of the teacher's live connections; null when none.</param>
public sealed record TeacherPresence(string TeacherId, PresenceStatus Status, bool Connected, DateTimeOffset ChangedAt, DateTimeOffset? LastSeenAt);

/// <summary>PUT /v1/me/availability.</summary>
public sealed record SetAvailabilityRequest(PresenceStatus? Status);

public static class PresenceRules
{
    public const int DefaultGraceSeconds = 30;
    /// <summary>Less than a page reload would flicker teachers offline.</summary>
    public const int MinGraceSeconds = 5;
    /// <summary>
    /// A teacher who is gone should stop being offered calls soon; also keeps the grace below
    /// <see cref="SignalingOptions.StaleConnectionSeconds"/> (see there).
    /// </summary>
    public const int MaxGraceSeconds = 60;

    public static string ToDatabase(this PresenceStatus status) => status switch
    {
        PresenceStatus.Available => "available",
        PresenceStatus.Away => "away",
        _ => "offline",
    };

    public static PresenceStatus FromDatabase(string status) => status switch
    {
        "available" => PresenceStatus.Available,
        "away" => PresenceStatus.Away,
        _ => PresenceStatus.Offline,
    };
}
