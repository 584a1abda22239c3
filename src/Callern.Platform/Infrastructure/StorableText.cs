using System.Text.Json;
using System.Text.Json.Serialization;

namespace Callern.Platform.Infrastructure;

/// <summary>
/// Text the platform accepts anywhere: PostgreSQL cannot store NUL (in text or in jsonb), nor half a
/// UTF-16 surrogate pair, and no field has a use for the other C0 control characters (tab, line feed
/// and carriage return excepted). Checked once at the edge, for every string of every input: REST
/// bodies (<see cref="Converter"/>), query strings and paths (<see cref="RejectInQueryAndPath"/>), and
/// the hub's arguments (<see cref="Signaling.HubArgumentFilter"/>); the services below trust it.
/// </summary>
public static class StorableText
{
    public const string Refusal = "Contains a character that cannot be stored: NUL, a control character or half a surrogate pair.";

    public static bool IsStorable(string? text) => text is null || IsStorable(text.AsSpan());

    private static bool IsStorable(ReadOnlySpan<char> text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c < ' ')
            {
                if (c is not ('\t' or '\n' or '\r'))
                {
                    return false;
                }
            }
            else if (char.IsHighSurrogate(c))
            {
                if (i + 1 >= text.Length || !char.IsLowSurrogate(text[i + 1]))
                {
                    return false;
                }
                i++;
            }
            else if (char.IsLowSurrogate(c))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Every string and property name of a JSON value (a whiteboard operation's data) is storable.</summary>
    public static bool IsStorable(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.String => IsStorable(element.GetString()),
        JsonValueKind.Array => element.EnumerateArray().All(IsStorable),
        JsonValueKind.Object => element.EnumerateObject().All(p => IsStorable(p.Name) && IsStorable(p.Value)),
        _ => true,
    };

    /// <summary>
    /// Every string of a REST body, as it is read: an unstorable one fails the read with
    /// <see cref="UnstorableTextException"/>, which becomes a 400 with the field's JSON path.
    /// </summary>
    public sealed class Converter : JsonConverter<string>
    {
        public override bool HandleNull => false;

        public override string? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            Checked(reader.GetString());

        public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WriteStringValue(value);

        public override string ReadAsPropertyName(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            Checked(reader.GetString())!;

        public override void WriteAsPropertyName(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WritePropertyName(value);

        private static string? Checked(string? value) => IsStorable(value) ? value : throw new UnstorableTextException();
    }

    /// <summary>A query value or name, or the path, that is not storable: 400 with a field error before any endpoint runs.</summary>
    public static Task RejectInQueryAndPath(HttpContext http, Func<Task> next)
    {
        var field = !IsStorable(http.Request.Path.Value) ? "path"
            : http.Request.Query.FirstOrDefault(q => !IsStorable(q.Key) || q.Value.Any(v => !IsStorable(v))).Key is { } name ? (IsStorable(name) ? name : "query")
            : null;
        return field is null
            ? next()
            : TypedResults.ValidationProblem(new Dictionary<string, string[]> { [field] = [Refusal] }).ExecuteAsync(http);
    }
}

/// <summary>A REST body held a string that <see cref="StorableText"/> refuses.</summary>
public sealed class UnstorableTextException() : JsonException(StorableText.Refusal);
