using Microsoft.AspNetCore.Http.HttpResults;

namespace Callern.Platform.Infrastructure;

/// <summary>
/// Collects validation errors by field (camelCase JSON paths) for an RFC 9457 validation problem.
/// Endpoints validate at the edge; the services below trust their input.
/// </summary>
public sealed class FieldErrors
{
    private readonly Dictionary<string, List<string>> _errors = new(StringComparer.Ordinal);

    public bool IsEmpty => _errors.Count == 0;

    public FieldErrors Add(string field, string message)
    {
        if (!_errors.TryGetValue(field, out var list))
        {
            _errors[field] = list = [];
        }
        list.Add(message);
        return this;
    }

    public FieldErrors Check(bool valid, string field, string message) => valid ? this : Add(field, message);

    public FieldErrors Required(string? value, string field, int maxLength = 200)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return Add(field, "Required.");
        }
        return Check(value.Length <= maxLength, field, $"At most {maxLength} characters.");
    }

    public FieldErrors Optional(string? value, string field, int maxLength) =>
        Check(value is null || value.Length <= maxLength, field, $"At most {maxLength} characters.");

    public IDictionary<string, string[]> ToDictionary() => _errors.ToDictionary(e => e.Key, e => e.Value.ToArray());

    public ValidationProblem ToProblem() => TypedResults.ValidationProblem(ToDictionary());
}
