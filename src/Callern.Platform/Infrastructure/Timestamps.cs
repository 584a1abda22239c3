namespace Callern.Platform.Infrastructure;

public static class Timestamps
{
    /// <summary>Npgsql reads timestamptz as a UTC <see cref="DateTime"/>; the API speaks <see cref="DateTimeOffset"/>.</summary>
    public static DateTimeOffset AsUtc(this DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));

    /// <summary>PostgreSQL keeps microseconds: answer with what a later read of the same row returns.</summary>
    public static DateTimeOffset ToDatabasePrecision(this DateTimeOffset value) =>
        new DateTimeOffset(value.UtcTicks - value.UtcTicks % 10, TimeSpan.Zero);
}
