using System.Text.RegularExpressions;
using Callern.Platform.Infrastructure;

namespace Callern.Platform.People;

/// <summary>Validation of the vocabularies profiles use: school ids, BCP 47 tags, CEFR levels, IANA zones.</summary>
public static partial class ProfileRules
{
    public const int MaxIdLength = 128;
    public static readonly string[] Levels = ["A1", "A2", "B1", "B2", "C1", "C2"];

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._:@\-]{0,127}$")]
    private static partial Regex IdPattern();

    // language[-script][-region][-variant]*: en, en-US, en-GB, zh-Hans-CN, es-419, de-CH-1996.
    [GeneratedRegex(@"^[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?(-([a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*$")]
    private static partial Regex LanguageTagPattern();

    [GeneratedRegex(@"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")]
    private static partial Regex SlugPattern();

    public static bool IsId(string? id) => id is not null && IdPattern().IsMatch(id);

    /// <summary>A BCP 47 tag in its canonical case (en-GB, not en-gb): one spelling per accent keeps matching exact.</summary>
    public static bool IsLanguageTag(string? tag) => tag is not null && tag.Length <= 35 && LanguageTagPattern().IsMatch(tag);

    public static bool IsLevel(string? level) => level is not null && Levels.Contains(level);

    public static bool IsSpecialization(string? value) => value is not null && value.Length <= 40 && SlugPattern().IsMatch(value);

    /// <summary>An IANA zone id such as Europe/London or UTC; Windows ids are refused.</summary>
    public static bool IsTimeZone(string? zone) =>
        zone is not null && zone.Length <= 64
        && TimeZoneInfo.TryFindSystemTimeZoneById(zone, out var found) && found.HasIanaId;

    public static FieldErrors Id(this FieldErrors errors, string? id, string field) =>
        errors.Check(IsId(id), field, "1 to 128 characters: letters, digits and . _ : @ -, starting with a letter or digit.");

    public static FieldErrors LanguageTag(this FieldErrors errors, string? tag, string field, bool required) =>
        tag is null && !required ? errors : errors.Check(IsLanguageTag(tag), field, "A BCP 47 language tag such as en, en-US or en-GB.");

    public static FieldErrors Level(this FieldErrors errors, string? level, string field, bool required) =>
        level is null && !required ? errors : errors.Check(IsLevel(level), field, "A CEFR level: A1, A2, B1, B2, C1 or C2.");

    public static FieldErrors TimeZone(this FieldErrors errors, string? zone, string field) =>
        errors.Check(IsTimeZone(zone), field, "An IANA time zone such as Europe/London or America/New_York.");

    public static FieldErrors Specialization(this FieldErrors errors, string? value, string field) =>
        errors.Check(IsSpecialization(value), field, "A lower-case slug such as conversational, business, exam-preparation or kids.");

    public static FieldErrors Url(this FieldErrors errors, string? url, string field) =>
        url is null ? errors : errors.Check(
            url.Length <= 2048 && Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "https" or "http",
            field, "An absolute http(s) URL.");
}
