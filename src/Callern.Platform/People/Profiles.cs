using Callern.Platform.Infrastructure;

namespace Callern.Platform.People;

public sealed record StudentPreferences(string? Accent, string? Specialization);

/// <summary>What a school sends for a student (PUT /v1/students/{id}, or the student's own PUT /v1/me).</summary>
public sealed record StudentInput(
    string? DisplayName, string? TargetLanguage, string? Level, string? TimeZone, StudentPreferences? Preferences, string? Goal)
{
    public FieldErrors Validate(FieldErrors errors, string prefix = "")
    {
        errors.Required(DisplayName, prefix + "displayName")
            .LanguageTag(TargetLanguage, prefix + "targetLanguage", required: false)
            .Level(Level, prefix + "level", required: false)
            .TimeZone(TimeZone, prefix + "timeZone")
            .LanguageTag(Preferences?.Accent, prefix + "preferences.accent", required: false)
            .Optional(Goal, prefix + "goal", 500);
        if (Preferences?.Specialization is not null)
        {
            errors.Specialization(Preferences.Specialization, prefix + "preferences.specialization");
        }
        return errors;
    }
}

public sealed record Student(
    string Id, string DisplayName, string? TargetLanguage, string? Level, string TimeZone,
    StudentPreferences Preferences, string? Goal, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

/// <summary>A language a teacher teaches: the tag carries the accent or dialect (en-GB, es-MX).</summary>
public sealed record TeacherLanguage(string? Language, IReadOnlyList<string>? Levels);

public sealed record TeacherInput(
    string? DisplayName, IReadOnlyList<TeacherLanguage>? Languages, IReadOnlyList<string>? Specializations,
    string? TimeZone, string? Bio, string? AvatarUrl)
{
    public FieldErrors Validate(FieldErrors errors, string prefix = "")
    {
        errors.Required(DisplayName, prefix + "displayName")
            .Check(Languages is { Count: >= 1 and <= 20 }, prefix + "languages", "1 to 20 languages.")
            .Check(Specializations is null || Specializations.Count <= 20, prefix + "specializations", "At most 20.")
            .TimeZone(TimeZone, prefix + "timeZone")
            .Optional(Bio, prefix + "bio", 2000)
            .Url(AvatarUrl, prefix + "avatarUrl");
        foreach (var (language, i) in (Languages ?? []).Select((l, i) => (l, i)))
        {
            var field = $"{prefix}languages[{i}]";
            errors.LanguageTag(language?.Language, field + ".language", required: true)
                .Check(language?.Levels is { Count: >= 1 }, field + ".levels", "At least one CEFR level.");
            foreach (var (level, j) in (language?.Levels ?? []).Select((l, j) => (l, j)))
            {
                errors.Level(level, $"{field}.levels[{j}]", required: true);
            }
        }
        errors.Check(Languages is null || Languages.Select(l => l?.Language).Distinct().Count() == Languages.Count,
            prefix + "languages", "Each language once.");
        foreach (var (specialization, i) in (Specializations ?? []).Select((s, i) => (s, i)))
        {
            errors.Specialization(specialization, $"{prefix}specializations[{i}]");
        }
        return errors;
    }
}

public sealed record Teacher(
    string Id, string DisplayName, IReadOnlyList<TeacherLanguage> Languages, IReadOnlyList<string> Specializations,
    string TimeZone, string? Bio, string? AvatarUrl, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);
